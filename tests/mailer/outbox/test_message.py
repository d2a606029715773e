"""An outbox row made into the backend's message (mailer.outbox.message): headers, charset, both parts."""

import random
import re
from email import message_from_bytes, policy
from email.policy import compat32

import pytest
from django.core.mail import BadHeaderError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext_lazy

from mailer import api as mail
from mailer.models import Email
from mailer.outbox.message import OutboxMessage, build_message
from mailer.outbox.mime import PLAIN_HEADERS_COMPAT32, WireMessage
from mailer.rendering import samples, templates


def _message(db_email: Email):
    return message_from_bytes(build_message(db_email).message().as_bytes(), policy=policy.default)


def test_headers(db, settings):
    settings.DEFAULT_FROM_EMAIL = "ElectNepal <no-reply@electnepal.test>"
    with transaction.atomic():
        (email,) = mail.enqueue(
            template="accounts/email/welcome",
            to="sita@example.com",
            language="ne",
            context={"first_name": "सीता", "username": "sita", "login_url": f"{settings.SITE_URL}/auth/login/"},
        )
    message = _message(email)
    assert message["Subject"].strip() == "[ElectNepal] ElectNepal मा स्वागत छ"
    assert message["Reply-To"] == templates.contact_email()
    assert re.fullmatch(r"<[^@>]+@electnepal\.test>", message["Message-ID"])
    assert message["From"] == "ElectNepal <no-reply@electnepal.test>"
    for content_type in ("plain", "html"):
        part = message.get_body((content_type,))
        assert part.get_content_charset() == "utf-8"
        assert "सीता" in part.get_content()


def test_boundaries_are_random_and_drawn_up_front(db, settings):
    """OutboxMessage sets every multipart boundary; the parts come back whole, boundaries never repeat."""
    with transaction.atomic():
        (email,) = mail.enqueue(
            template="accounts/email/welcome",
            to="sita@example.com",
            context={"first_name": "Sita", "username": "sita", "login_url": "https://x.test/"},
        )
    built = [build_message(email).message() for _ in range(2)]
    boundaries = [m.get_boundary() for m in built]
    assert all(re.fullmatch(r"=+[0-9a-f]{32}==", b) for b in boundaries) and boundaries[0] != boundaries[1]
    parsed = message_from_bytes(built[0].as_bytes(), policy=policy.default)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_the_standard_library_still_searches_the_text_for_a_boundary_it_draws():
    """What drawing boundaries up front works around: the generator's search of the whole text.

    If the generator stops doing it, this fails and OutboxMessage can go (docs/performance.md).
    """
    import inspect
    from email.generator import Generator

    source = inspect.getsource(Generator._handle_multipart)
    assert "if not boundary:" in source and "_make_boundary(alltext)" in source


def _standard_bytes(message: OutboxMessage, linesep: str) -> bytes:
    """What Django's tree and the standard library's compat32 generator give for ``message``."""
    tree = message.tree()
    tree.policy = compat32
    return tree.as_bytes(linesep=linesep)


def test_every_kind_is_written_byte_for_byte_as_django_and_the_standard_library_write_it(settings):
    settings.DEFAULT_FROM_EMAIL = "ElectNepal निर्वाचन <no-reply@electnepal.test>"  # an encoded display name too
    compared = 0
    for kind in samples.kinds():
        for language in samples.languages_of(kind):
            email = Email(template=kind, to="sita@example.com", language=language)
            email.context = samples.sample_context(kind, language)
            message = build_message(email)
            wire = message.message()
            assert isinstance(wire, WireMessage), (kind, language)  # the usual shape: written directly
            for linesep in ("\r\n", "\n"):
                assert wire.as_bytes(linesep=linesep) == _standard_bytes(message, linesep), (kind, language)
            compared += 1
    assert compared >= 20


WORDS = ["नमस्ते", "Sita", "a", "x" * 30, "सीता", "=?utf-8?q?x?=", "ĳ", "…", "tab\t", "end."]


def test_random_messages_are_written_as_the_standard_library_writes_them(settings):
    rng = random.Random(11)
    for _ in range(300):
        lines = [" ".join(rng.choices(WORDS, k=rng.randrange(0, 12))) for _ in range(rng.randrange(1, 8))]
        body = rng.choice(["\n", "\r\n", "\r"]).join(lines) + rng.choice(["", "\n", "\r\n\r\n"])
        html = "<p>" + "<br>\n".join(lines) + "</p>"
        subject = " ".join(rng.choices(WORDS, k=rng.randrange(1, 15)))
        name = " ".join(rng.choices(WORDS, k=rng.randrange(0, 4)))
        headers = {"Message-ID": "<1.2.3@electnepal.test>", "Date": "Fri, 04 Dec 2026 14:32:28 -0000"}
        if rng.random() < 0.3:
            headers["X-SES-CONFIGURATION-SET"] = "electnepal"
        message = OutboxMessage(
            subject=subject,
            body=body or "-",
            from_email=f"{name} <no-reply@electnepal.test>" if name else "no-reply@electnepal.test",
            to=["sita@example.com"],
            reply_to=rng.choice([[], ["contact@electnepal.test"]]),
            headers=headers,
        )
        message.attach_alternative(html, "text/html")
        wire = message.message()
        assert isinstance(wire, WireMessage)
        for linesep in ("\r\n", "\n"):
            assert wire.as_bytes(linesep=linesep) == _standard_bytes(message, linesep), (subject, name, body)


def test_other_shapes_and_long_lines_take_the_standard_way():
    headers = {"Message-ID": "<1@electnepal.test>", "Date": "Fri, 04 Dec 2026 14:32:28 -0000"}
    long_line = OutboxMessage(subject="s", body="x" * 999, to=["a@example.com"], headers=headers)
    long_line.attach_alternative("<p>x</p>", "text/html")
    attached = OutboxMessage(subject="s", body="x", to=["a@example.com"], headers=headers)
    attached.attach_alternative("<p>x</p>", "text/html")
    attached.attach("a.txt", "hello", "text/plain")
    no_html = OutboxMessage(subject="s", body="x", to=["a@example.com"], headers=headers)
    no_date = OutboxMessage(subject="s", body="x", to=["a@example.com"], headers={"Message-ID": "<1@x.test>"})
    no_date.attach_alternative("<p>x</p>", "text/html")
    for message in (long_line, attached, no_html, no_date):
        assert not isinstance(message.message(), WireMessage)
    assert b"Content-Transfer-Encoding: quoted-printable" in long_line.message().as_bytes()


def test_a_line_break_in_a_header_is_refused_on_both_ways():
    headers = {"Message-ID": "<1@electnepal.test>", "Date": "Fri, 04 Dec 2026 14:32:28 -0000"}
    for subject in ("Hi\nBcc: victim@example.com", "Hi\rX: y"):
        message = OutboxMessage(subject=subject, body="x", to=["a@example.com"], headers=headers)
        message.attach_alternative("<p>x</p>", "text/html")
        with pytest.raises(BadHeaderError):
            message.message()
        with pytest.raises(BadHeaderError):
            message.tree()


def test_a_header_is_written_afresh_where_its_line_may_change():
    # Header lines are kept once written (mime._headers): one lazy subject, shared as a
    # module's constant would be, still speaks the language active at each call, and a
    # refused header raises on every call.
    headers = {"Message-ID": "<1@electnepal.test>", "Date": "Fri, 04 Dec 2026 14:32:28 -0000"}
    subject, subjects = gettext_lazy("First name"), {}
    for language in ("en", "ne", "en"):
        message = OutboxMessage(subject=subject, body="x", to=["a@example.com"], headers=headers)
        message.attach_alternative("<p>x</p>", "text/html")
        with translation.override(language):
            wire, tree = message.message(), message.tree()
            assert wire.as_bytes() == tree.as_bytes()
        subjects[language] = message_from_bytes(wire.as_bytes(), policy=policy.default)["Subject"]
    assert subjects == {"en": "First name", "ne": "पहिलो नाम"}
    refused = OutboxMessage(subject="Hi\nBcc: victim@example.com", body="x", to=["a@example.com"], headers=headers)
    refused.attach_alternative("<p>x</p>", "text/html")
    for _ in range(2):
        with pytest.raises(BadHeaderError):
            refused.message()


def test_the_tree_behind_the_bytes_agrees_with_them():
    headers = {"Message-ID": "<1@electnepal.test>", "Date": "Fri, 04 Dec 2026 14:32:28 -0000"}
    message = OutboxMessage(subject="नमस्ते", body="x", to=["a@example.com"], headers=headers)
    message.attach_alternative("<p>x</p>", "text/html")
    wire = message.message()
    assert wire["Message-ID"] == "<1@electnepal.test>" and "Date" in wire
    assert wire.get_boundary() == message.boundary and wire.get_charset() is None
    assert wire.tree.as_bytes() == wire.as_bytes()


def test_only_plain_short_header_values_skip_the_standard_folding():
    values = [
        "plain words",
        "x" * 70,
        "x" * 80,  # too long for its line: folded the standard way
        " leading space",
        "two  spaces",
        "trailing ",
        "tab\there",
        "=?utf-8?b?4KS44KWA4KSk4KS+?=",
        "ends with a comma, and; semicolons",
        "a " * 40,
    ]
    rng = random.Random(7)
    values += ["".join(rng.choices("ab ;,\t=?-", k=rng.randrange(1, 90))) for _ in range(3000)]
    for value in values:
        for linesep in ("\n", "\r\n"):
            ours = PLAIN_HEADERS_COMPAT32.clone(linesep=linesep).fold_binary("Subject", value)
            assert ours == compat32.clone(linesep=linesep).fold_binary("Subject", value), repr(value)
