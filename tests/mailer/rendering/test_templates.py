"""Every kind of email in every language, rendered through the worker's path, checked part by part.

User text never adds a header and is escaped in HTML: every kind of email (found by
mailer.rendering.samples with its sample context) is rendered through the worker's own
build_message with every string of its context poisoned: CR/LF plus header lines, and
HTML/script. The message must come out with its usual headers only, a one-line
subject, and the HTML part escaped. Forms refuse CR/LF in names
(tests/accounts/test_bad_input.py), the outbox in addresses (tests/mailer/outbox/test_enqueue.py).
"""

import html as html_lib
import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.utils.html import strip_tags

from mailer.models import Email
from mailer.outbox import secret_context
from mailer.outbox.message import build_message
from mailer.rendering import samples, templates
from mailer.templatetags.email_dates import numerals
from tests.support.rendering import SPEC_KINDS

CASES = [(kind, language) for kind in samples.kinds() for language in samples.languages_of(kind)]
URL = re.compile(r"""(?:https?://|mailto:)[^\s"'<>]+""")


def visible_text(html: str) -> str:
    body = re.sub(r"<(style|head)\b.*?</\1>", "", html, flags=re.S | re.I)
    return html_lib.unescape(strip_tags(body))


def links(text: str) -> set[str]:
    return {url.rstrip(".,;:)") for url in URL.findall(text)}


@pytest.mark.parametrize(("kind", "language"), CASES)
def test_parts(kind, language):
    email = samples.render_sample(kind, language)
    assert email.subject.startswith("[ElectNepal] ") and len(email.subject) > len("[ElectNepal] ") + 3
    assert "\n" not in email.subject and "\r" not in email.subject
    assert email.text.strip() and email.html.strip()
    # Every link is in both parts, and every link is ours.
    text_links = links(email.text)
    html_links = links(html_lib.unescape(email.html))
    contact = f"mailto:{templates.contact_email()}"
    assert text_links, "an email without a link"
    assert html_links - {contact} == text_links  # the text part is complete on its own
    assert contact in html_links and templates.contact_email() in email.text  # the footer's contact address
    for url in text_links:
        assert url.startswith(settings.SITE_URL), url


@pytest.mark.parametrize(("kind", "language"), CASES)
def test_html_is_fit_for_mail_clients(kind, language):
    html = samples.render_sample(kind, language).html
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert f'<html lang="{language}"' in html
    assert 'role="presentation"' in html  # table layout
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert not re.search(r"""(?:src|background)=["']?https?:""", html)  # nothing fetched from elsewhere
    assert 'name="viewport"' in html
    # CSS is inlined; only the @media rules stay in <style>.
    (style,) = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    assert style.strip().startswith("@media") and "max-width: 600px" in html
    assert re.search(r'<td class="content" style="[^"]*padding: 24px', html)
    assert re.search(r'class="brand" style="[^"]*background: #003893', html)


@pytest.mark.parametrize("kind", sorted(SPEC_KINDS))
def test_nepali_is_nepali(kind):
    """Beyond names, addresses, links and the brand, no Latin words in the Nepali version."""
    email = samples.render_sample(kind, "ne")
    sample = samples.sample_context(kind, "ne")
    for part in (email.subject, email.text, visible_text(email.html)):
        rest = URL.sub("", part)
        rest = re.sub(r"[\w.+-]+@[\w.-]+", "", rest)
        for value in sample.values():
            if isinstance(value, str):
                rest = rest.replace(value, "")
        rest = rest.replace("ElectNepal", "")
        assert not re.findall(r"[A-Za-z]{2,}", rest), (kind, re.findall(r"[A-Za-z]{2,}", rest))
        assert re.search(r"[\u0900-\u097F]{3,}", part)


@pytest.mark.parametrize(
    ("kind", "hours", "en", "ne"),
    [
        (
            "accounts/email/verification",
            "72",
            "If you did not sign up, ignore this email",
            "तपाईंले दर्ता गर्नुभएको होइन भने",
        ),
        (
            "accounts/email/password_reset",
            "24",
            "If you did not ask for this, ignore this email",
            "तपाईंले अनुरोध गर्नुभएको होइन भने",
        ),
    ],
)
def test_link_emails_state_the_expiry_and_what_to_do(kind, hours, en, ne):
    english, nepali = samples.render_sample(kind, "en"), samples.render_sample(kind, "ne")
    for text in (english.text, visible_text(english.html)):
        assert f"{hours} hours" in text and en in text
    for text in (nepali.text, visible_text(nepali.html)):
        assert f"{numerals(hours, 'ne')} घण्टा" in text and ne in text


def test_user_text_is_escaped_in_html_and_kept_in_text():
    notes = 'Fix the <b>photo</b> & "ward" <script>alert(1)</script>'
    context = {
        **samples.sample_context("candidates/email/rejection", "en"),
        "notes": notes,
        "full_name_en": "<i>Hari</i>",
    }
    email = templates.render(template="candidates/email/rejection", context=context, language="en")
    assert notes in email.text and "<i>Hari</i>" in email.text
    assert "<script>" not in email.html and "<b>photo</b>" not in email.html and "<i>Hari</i>" not in email.html
    assert "&lt;script&gt;" in email.html and "&lt;i&gt;Hari&lt;/i&gt;" in email.html


# --- Header injection and XSS ---------------------------------------------------------


HEADER_PAYLOAD = "Sita\r\nBcc: evil@example.com\r\nX-Injected: 1\nSubject: spoofed"
HTML_PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)><a href="https://evil.example">click</a>'
EXPECTED_HEADERS = {
    "Content-Type",
    "MIME-Version",
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "Reply-To",
}


def poisoned(value, payload: str):
    """``value`` with ``payload`` appended to every string in it (URLs included)."""
    if isinstance(value, str):
        return value + payload
    if isinstance(value, list):
        return [poisoned(v, payload) for v in value]
    if isinstance(value, dict):
        return {k: poisoned(v, payload) for k, v in value.items()}
    return value


def every_email():
    return [(kind, language) for kind in samples.kinds() for language in samples.languages_of(kind)]


def built(kind: str, language: str, payload: str):
    """build_message of an outbox row for ``kind`` whose whole context carries ``payload``."""
    context = poisoned(samples.sample_context(kind, language), payload)
    links = {k: v for k, v in context.items() if k.endswith("_url")}
    email = Email(
        template=kind,
        to="sita@example.com",
        language=language,
        context={k: v for k, v in context.items() if k not in links},
        secret_context=secret_context.encrypt(links),
    )
    return build_message(email)


def test_every_kind_of_email_is_covered():
    kinds = {k.rsplit("/", 1)[1] for k in samples.kinds()}
    assert {"verification", "account_exists", "welcome", "password_reset", "password_changed"} <= kinds
    assert {"registration_confirmation", "admin_notification", "approval", "rejection"} <= kinds


@pytest.mark.parametrize(("kind", "language"), every_email())
def test_user_text_adds_no_header(kind, language):
    built_message = built(kind, language, HEADER_PAYLOAD)
    # The subject is one line: line breaks from user text became spaces.
    assert "\r" not in built_message.subject and "\n" not in built_message.subject
    message = built_message.message()  # serialising raises BadHeaderError on any header with a newline
    assert set(message.keys()) <= EXPECTED_HEADERS, set(message.keys()) - EXPECTED_HEADERS
    assert message.get_all("To") == ["sita@example.com"] and len(message.get_all("Subject")) == 1
    assert built_message.recipients() == ["sita@example.com"]
    assert "evil@example.com" not in " ".join(str(v) for k, v in message.items() if k != "Subject")


class Elements(HTMLParser):
    """The elements, attributes and text of an HTML document, as a browser would see them."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(html: str):
    """No element or attribute came from the payload: it can only be text (or inside a quoted value)."""
    page = Elements(html)
    assert not [t for t, _ in page.tags if t == "script"]
    assert not [(t, a) for t, a in page.tags if any(name.startswith("on") for name in a)]
    assert not [a for t, a in page.tags if t == "img" and a.get("src") == "x"]
    assert not [a for t, a in page.tags if t == "a" and a.get("href") == "https://evil.example"]
    return page


@pytest.mark.parametrize(("kind", "language"), every_email())
def test_user_text_is_escaped_in_the_html_part(kind, language):
    page = assert_inert(built(kind, language, HTML_PAYLOAD).alternatives[0][0])
    if not kind.startswith("mailer/"):  # these show the user's name or profile: as text
        assert HTML_PAYLOAD in "".join(page.text)


def test_admin_notes_with_html_arrive_as_text():
    notes = 'Please fix <b>your photo</b>: <a href="https://evil.example/login">log in here</a>\r\nThanks & regards'
    context = {**samples.sample_context("candidates/email/rejection", "en"), "notes": notes}
    links = {k: v for k, v in context.items() if k.endswith("_url")}
    email = Email(
        template="candidates/email/rejection",
        to="hari@example.com",
        language="en",
        context={k: v for k, v in context.items() if k not in links},
        secret_context=secret_context.encrypt(links),
    )
    message = build_message(email)
    html = message.alternatives[0][0]
    assert "&lt;b&gt;your photo&lt;/b&gt;" in html and "<b>your photo</b>" not in html
    page = assert_inert(html)
    assert not [a for t, a in page.tags if t == "a" and "evil.example" in a.get("href", "")]
    assert 'Please fix <b>your photo</b>: <a href="https://evil.example/login">log in here</a>' in "".join(page.text)
    assert "Thanks & regards" in "".join(page.text)
    assert notes.replace("\r\n", "\n") in message.body.replace("\r\n", "\n")  # the text part: as typed
