"""Rendering an email: one template name, three parts, one language.

``<name>.subject.txt``, ``<name>.txt`` and ``<name>.html`` (Zulip's layout), with a
per-language variant ``<name>.<lang>.subject.txt`` etc. taking precedence when it
exists. Everything renders under ``translation.override(language)``, so
``{% translate %}`` and date filters speak the recipient's language too.
Text parts render without autoescaping; the HTML part escapes everything the
context brings in (user-entered names and notes included).

The HTML's ``<style>`` rules are inlined into ``style`` attributes at render time
with css-inline (Rust, maintained, ~10x faster than premailer): many mail clients
drop ``<style>``; the ``@media`` rules stay in the head for those that read them.
Nothing remote is ever loaded.
"""

from dataclasses import dataclass
from email.utils import parseaddr
from functools import cache, lru_cache

import css_inline
from django.conf import settings
from django.template import Context, engines
from django.utils import translation


@dataclass(frozen=True)
class RenderedEmail:
    """An email's three parts: the one-line subject, the text, the HTML with its CSS inlined."""

    subject: str
    text: str
    html: str


def _engine():
    # The project's Django engine, with its cached loader: templates are parsed once.
    return engines["django"].engine


def _part(name: str, part: str, language: str, context: dict, *, autoescape: bool) -> str:
    template = _engine().select_template([f"{name}.{language}.{part}", f"{name}.{part}"])
    rendered = template.render(Context(context, autoescape=autoescape))
    # Template.render() marks its output safe for HTML. A part rendered without
    # escaping is not: as a plain str, a page that shows it (the staff previews,
    # the email log) escapes the "<" a name or a note may hold.
    return rendered if autoescape else str.__str__(rendered)


def clean_subject(subject: str) -> str:
    """One line, prefixed: a newline in a header would be refused or, worse, add one."""
    line = " ".join(subject.split())
    prefix = settings.MAILER_SUBJECT_PREFIX
    return line if line.startswith(prefix) else prefix + line


@cache
def _inliner() -> css_inline.CSSInliner:
    # Built once per process: the options are parsed once, remote loading is off.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def inline_css(html: str) -> str:
    """``html`` with its ``<style>`` rules moved into ``style`` attributes (``@media`` rules kept)."""
    return _inliner().inline(html)


@lru_cache(maxsize=16)
def address_in(value: str) -> str:
    """The bare address of a setting such as ``ElectNepal <no-reply@example.org>`` ("" if none)."""
    # Parsed once per value rather than once per email: a setting changes rarely.
    return parseaddr(value)[1]


def contact_email() -> str:
    """Where recipients write to: settings.MAILER_CONTACT_EMAIL (also the Reply-To)."""
    return address_in(settings.MAILER_CONTACT_EMAIL)


def base_context() -> dict:
    """What every email may use besides its own context: the site's URL and name, the contact address."""
    return {"site_url": settings.SITE_URL, "site_name": "ElectNepal", "contact_email": contact_email()}


def render(*, template: str, context: dict, language: str) -> RenderedEmail:
    """Render subject, text and HTML of ``template`` for ``language``.

    Raises django.template.TemplateDoesNotExist when the template has no such part.
    """
    ctx = {**base_context(), **context, "language": language}
    with translation.override(language):
        return RenderedEmail(
            subject=clean_subject(_part(template, "subject.txt", language, ctx, autoescape=False)),
            text=_part(template, "txt", language, ctx, autoescape=False),
            html=inline_css(_part(template, "html", language, ctx, autoescape=True)),
        )
