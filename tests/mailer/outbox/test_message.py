"""An outbox row made into the backend's message (mailer.outbox.message): headers, charset, both parts."""

import random
import re
from email import message_from_bytes, policy

from django.db import transaction

from mailer import api as mail
from mailer.models import Email
from mailer.outbox.message import build_message
from mailer.rendering import templates


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


def test_every_kind_serialises_to_the_bytes_compat32_gives(settings):
    """PlainHeadersCompat32 only skips work: every kind and language, byte for byte the standard policy's."""
    from email.policy import compat32

    from mailer.outbox.message import PLAIN_HEADERS_COMPAT32
    from mailer.rendering import samples

    settings.DEFAULT_FROM_EMAIL = "ElectNepal निर्वाचन <no-reply@electnepal.test>"  # an encoded display name too
    compared = 0
    for kind in samples.kinds():
        for language in samples.languages_of(kind):
            email = Email(template=kind, to="sita@example.com", language=language)
            email.context = samples.sample_context(kind, language)
            message = build_message(email).message()
            assert message.policy is PLAIN_HEADERS_COMPAT32
            ours = message.as_bytes(linesep="\r\n")
            message.policy = compat32
            assert ours == message.as_bytes(linesep="\r\n"), (kind, language)
            compared += 1
    assert compared >= 20


def test_only_plain_short_header_values_skip_the_standard_folding():
    from email.policy import compat32

    from mailer.outbox.message import PLAIN_HEADERS_COMPAT32

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
