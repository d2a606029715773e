"""Shared steps of the account tests: sign up, read the emailed link, a reset link made directly."""

import re
import uuid

from django.test import Client

from accounts.models import AddressRequest, PasswordResetToken
from accounts.tokens import token_hash
from mailer.models import Email
from tests.support.waits import wait_for

PASSWORD = "kathmandu-valley-2082"
LINK = re.compile(r"https://electnepal\.test(/auth/[a-z-]+/[0-9a-f-]{36}/)")


def signup_data(**overrides) -> dict:
    data = {
        "username": "sita",
        "email": "sita@example.com",
        "first_name": "Sita",
        "last_name": "Sharma",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "preferred_language": "en",
    }
    return {**data, **overrides}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def wait_all_final():
    """Wait until no resend/forgot request waits for the worker and the outbox has nothing in flight."""
    wait_for(
        lambda: (
            not AddressRequest.objects.exists() and not Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists()
        ),
        message="the address requests and the outbox to drain",
    )


def handle_address_requests() -> int:
    """What the worker does with resend/forgot requests, here and now (tests without a worker)."""
    from accounts import services

    return sum(
        services.address_request_process(request_id=pk) for pk in AddressRequest.objects.values_list("pk", flat=True)
    )


def emails_to(sink, address: str, subject_part: str = ""):
    wait_all_final()
    return [m for m in sink.sent() if m["To"] == address and subject_part in m["Subject"]]


def link_in(message) -> str:
    """The path of the one token link in the plain-text part (also checked in HTML)."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    (path,) = set(LINK.findall(text))
    assert path in html
    return path


def signup(client: Client, **overrides):
    return client.post("/auth/signup/", signup_data(**overrides))


def reset_token(user) -> uuid.UUID:
    token = uuid.uuid4()
    PasswordResetToken.objects.create(user=user, token_hash=token_hash(token))
    return token
