"""Every kind of email, rendered with sample data exactly as the worker renders it.

Kinds are found, not registered: every ``<app>/email/<kind>.subject.txt`` under the
template directories that has a ``<kind>.sample.json`` beside it (so the mailer
imports no app to know them). A sample may have a per-language variant
``<kind>.<lang>.sample.json`` (names of places in Nepali, say). ``$SITE_URL`` in a
sample's strings becomes settings.SITE_URL, so every link starts as the real
ones do.

``render_sample`` goes through ``templates.render``, the worker's own path, so
the preview is the email: same templates, same inlining, same escaping.
"""

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.template import TemplateDoesNotExist, engines

from .templates import RenderedEmail, render

SUBJECT = ".subject.txt"


def _template_dirs() -> list[Path]:
    dirs = []
    for loader in engines["django"].engine.template_loaders:
        for inner in getattr(loader, "loaders", [loader]):  # the cached loader wraps the others
            dirs.extend(Path(d) for d in inner.get_dirs())
    return dirs


@cache
def kinds() -> tuple[str, ...]:
    """Template names (``accounts/email/verification``...) that have a sample, sorted."""
    found = set()
    for root in _template_dirs():
        for subject in root.glob(f"*/email/*{SUBJECT}"):
            name = str(subject.relative_to(root))[: -len(SUBJECT)]
            base = name.split(".")[0]  # accounts/email/verification.ne -> ...verification
            if (root / f"{base}.sample.json").exists():
                found.add(base)
    return tuple(sorted(found))


def languages() -> list[str]:
    """The language codes of settings.LANGUAGES, in their order."""
    return [code for code, _ in settings.LANGUAGES]


def languages_of(template: str) -> list[str]:
    """The languages ``template`` is written in: English, and each with its own subject."""
    engine = engines["django"].engine
    written = []
    for code in languages():
        try:
            if code == settings.LANGUAGE_CODE or engine.get_template(f"{template}.{code}{SUBJECT}"):
                written.append(code)
        except TemplateDoesNotExist:
            continue
    return written


def _with_site_url(value):
    if isinstance(value, str):
        return value.replace("$SITE_URL", settings.SITE_URL)
    if isinstance(value, list):
        return [_with_site_url(v) for v in value]
    if isinstance(value, dict):
        return {k: _with_site_url(v) for k, v in value.items()}
    return value


def sample_context(template: str, language: str) -> dict:
    """The sample context of ``template`` for ``language`` (KeyError for an unknown kind)."""
    if template not in kinds():
        raise KeyError(template)
    engine = engines["django"].engine
    for name in (f"{template}.{language}.sample.json", f"{template}.sample.json"):
        try:
            source = engine.get_template(name).source
        except TemplateDoesNotExist:
            continue
        return _with_site_url(json.loads(source))
    raise KeyError(template)


def render_sample(template: str, language: str) -> RenderedEmail:
    """``template`` in ``language`` with its sample context, rendered as the worker would."""
    return render(template=template, context=sample_context(template, language), language=language)
