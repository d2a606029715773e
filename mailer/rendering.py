"""Rendering an email: one template name, three parts, one language.

``<name>.subject.txt``, ``<name>.txt`` and ``<name>.html`` (Zulip's layout), with a
per-language variant ``<name>.<lang>.subject.txt`` etc. taking precedence when it
exists. Everything renders under ``translation.override(language)``, so
``{% translate %}`` and date filters speak the recipient's language too.
Text parts render without autoescaping; the HTML part escapes everything the
context brings in (user-entered names and notes included).
"""

from dataclasses import dataclass

from django.conf import settings
from django.template import Context, engines
from django.utils import translation


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _engine():
    # The project's Django engine, with its cached loader: templates are parsed once.
    return engines["django"].engine


def _part(name: str, part: str, language: str, context: dict, *, autoescape: bool) -> str:
    template = _engine().select_template([f"{name}.{language}.{part}", f"{name}.{part}"])
    return template.render(Context(context, autoescape=autoescape))


def clean_subject(subject: str) -> str:
    """One line, prefixed: a newline in a header would be refused or, worse, add one."""
    line = " ".join(subject.split())
    prefix = settings.MAILER_SUBJECT_PREFIX
    return line if line.startswith(prefix) else prefix + line


def base_context() -> dict:
    return {"site_url": settings.SITE_URL, "site_name": "ElectNepal"}


def render(*, template: str, context: dict, language: str) -> RenderedEmail:
    """Render subject, text and HTML of ``template`` for ``language``.

    Raises django.template.TemplateDoesNotExist when the template has no such part.
    """
    ctx = {**base_context(), **context, "language": language}
    with translation.override(language):
        return RenderedEmail(
            subject=clean_subject(_part(template, "subject.txt", language, ctx, autoescape=False)),
            text=_part(template, "txt", language, ctx, autoescape=False),
            html=_part(template, "html", language, ctx, autoescape=True),
        )
