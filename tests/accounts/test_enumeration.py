"""Known and unknown addresses get the same answer: status, redirect, message, cookies."""

import pytest
from django.test import Client

from accounts.models import User
from mailer.models import Email

from .helpers import PASSWORD, handle_address_requests, messages_of


def answer(path: str, address: str):
    response = Client().post(path, {"email": address}, follow=True)
    return (
        response.status_code,
        response.redirect_chain,
        messages_of(response),
        sorted(response.cookies),
        sorted(k for k in response.headers if k.lower() not in {"content-length"}),
    )


@pytest.fixture
def accounts(db):
    verified = User(username="known", email="known@example.com", email_verified_at="2026-01-01T00:00Z")
    verified.set_password(PASSWORD)
    verified.save()
    unverified = User(username="pending", email="pending@example.com", is_active=False)
    unverified.set_password(PASSWORD)
    unverified.save()


@pytest.mark.parametrize("path", ["/auth/forgot-password/", "/auth/resend-verification/"])
def test_same_answer_for_every_address(accounts, path):
    answers = {answer(path, a)[:4] == answer(path, "nobody@example.com")[:4] for a in ("known@example.com", "pending@example.com", "KNOWN@example.com")}
    assert answers == {True}
    assert answer(path, "nobody@example.com")[4] == answer(path, "known@example.com")[4]


def test_emails_only_go_to_accounts_that_exist(accounts):
    Client().post("/auth/forgot-password/", {"email": "nobody@example.com"})
    Client().post("/auth/resend-verification/", {"email": "nobody@example.com"})
    Client().post("/auth/resend-verification/", {"email": "known@example.com"})  # already verified
    assert handle_address_requests() == 3
    assert not Email.objects.exists()
    Client().post("/auth/forgot-password/", {"email": "KNOWN@example.com"})
    Client().post("/auth/resend-verification/", {"email": "pending@example.com"})
    assert handle_address_requests() == 2
    assert sorted(Email.objects.values_list("to", "template")) == [
        ("known@example.com", "accounts/email/password_reset"),
        ("pending@example.com", "accounts/email/verification"),
    ]
