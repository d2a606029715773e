"""An outbox row made into the backend's message (mailer.outbox.message): headers, charset, both parts."""

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
            template="accounts/email/welcome", to="sita@example.com", language="ne",
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
