"""Header injection and XSS: user text never adds a header and is escaped in HTML email and pages.

Every kind of email the project sends (mailer.previews finds them with their
sample contexts) is rendered through the worker's own build_message with every
string of its context poisoned: CR/LF plus header lines, and HTML/script. The
message must come out with its usual headers only, a one-line subject, and the
HTML part escaped. Forms refuse CR/LF in names (tests/accounts/test_bad_input.py)
and addresses; pages echo user input escaped.
"""

from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from mailer import api
from mailer.outbox import secret_context as secrets
from mailer.rendering import samples as previews
from mailer.models import Email
from mailer.outbox.message import build_message

HEADER_PAYLOAD = "Sita\r\nBcc: evil@example.com\r\nX-Injected: 1\nSubject: spoofed"
HTML_PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)><a href="https://evil.example">click</a>'
EXPECTED_HEADERS = {
    "Content-Type", "MIME-Version", "Subject", "From", "To", "Date", "Message-ID", "Reply-To",
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
    return [(kind, language) for kind in previews.kinds() for language in previews.languages_of(kind)]


def built(kind: str, language: str, payload: str):
    """build_message of an outbox row for ``kind`` whose whole context carries ``payload``."""
    context = poisoned(previews.sample_context(kind, language), payload)
    links = {k: v for k, v in context.items() if k.endswith("_url")}
    email = Email(
        template=kind, to="sita@example.com", language=language,
        context={k: v for k, v in context.items() if k not in links}, secret_context=secrets.encrypt(links),
    )
    return build_message(email)


def test_every_kind_of_email_is_covered():
    kinds = {k.rsplit("/", 1)[1] for k in previews.kinds()}
    assert {"verification", "account_exists", "welcome", "password_reset", "password_changed"} <= kinds
    assert {"registration_confirmation", "admin_notification", "approval", "rejection"} <= kinds


@pytest.mark.parametrize("kind,language", every_email())
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


@pytest.mark.parametrize("kind,language", every_email())
def test_user_text_is_escaped_in_the_html_part(kind, language):
    page = assert_inert(built(kind, language, HTML_PAYLOAD).alternatives[0][0])
    if not kind.startswith("mailer/"):  # these show the user's name or profile: as text
        assert HTML_PAYLOAD in "".join(page.text)


def test_admin_notes_with_html_arrive_as_text():
    notes = 'Please fix <b>your photo</b>: <a href="https://evil.example/login">log in here</a>\r\nThanks & regards'
    context = {**previews.sample_context("candidates/email/rejection", "en"), "notes": notes}
    links = {k: v for k, v in context.items() if k.endswith("_url")}
    email = Email(
        template="candidates/email/rejection", to="hari@example.com", language="en",
        context={k: v for k, v in context.items() if k not in links}, secret_context=secrets.encrypt(links),
    )
    message = build_message(email)
    html = message.alternatives[0][0]
    assert "&lt;b&gt;your photo&lt;/b&gt;" in html and "<b>your photo</b>" not in html
    page = assert_inert(html)
    assert not [a for t, a in page.tags if t == "a" and "evil.example" in a.get("href", "")]
    assert 'Please fix <b>your photo</b>: <a href="https://evil.example/login">log in here</a>' in "".join(page.text)
    assert "Thanks & regards" in "".join(page.text)
    assert notes.replace("\r\n", "\n") in message.body.replace("\r\n", "\n")  # the text part: as typed


@pytest.mark.parametrize("address", ["sita@example.com\r\nBcc: evil@example.com", "sita@example.com\nX: 1", "a\rb@example.com"])
def test_the_outbox_refuses_an_address_with_a_line_break(db, address):
    with pytest.raises(ValidationError):
        api.enqueue(template="accounts/email/welcome", to=address, context={})
    assert not Email.objects.exists()


# --- Pages ---------------------------------------------------------------------------------

PAGE_PAYLOAD = '"><script>alert(1)</script>'


def test_signup_echoes_user_input_escaped(db):
    response = Client().post("/auth/signup/", {
        "username": PAGE_PAYLOAD, "email": PAGE_PAYLOAD, "first_name": PAGE_PAYLOAD, "last_name": PAGE_PAYLOAD,
        "password1": PAGE_PAYLOAD, "password2": "other",
    })
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("path,field", [("/auth/login/", "username"), ("/auth/forgot-password/", "email")])
def test_forms_echo_user_input_escaped(db, path, field):
    response = Client().post(path, {field: PAGE_PAYLOAD, "password": "x"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
