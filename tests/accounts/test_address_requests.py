"""Resend-verification and forgot-password requests: recorded by the request, handled by a worker.

Once each (a redelivered message or a concurrent sweep finds nothing), never lost
(a request whose publish failed is handled by the beat sweep), never stuck (a
request that fails is logged and dropped).
"""

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import AddressRequest, User
from mailer.models import Email
from tests.support.accounts import PASSWORD, emails_to, wait_all_final
from tests.support.processes import broker


@pytest.fixture
def known(db):
    user = User(username="known", email="known@example.com", email_verified_at=timezone.now())
    user.set_password(PASSWORD)
    user.save()
    return user


def test_a_request_is_handled_once(known):
    Client().post("/auth/forgot-password/", {"email": "known@example.com"})
    (request,) = AddressRequest.objects.all()
    assert services.address_request_process(request_id=request.pk) is True
    assert services.address_request_process(request_id=request.pk) is False  # redelivered
    assert Email.objects.filter(template="accounts/email/password_reset").count() == 1
    assert not AddressRequest.objects.exists()


def test_the_sweep_handles_requests_whose_message_was_lost(known):
    old = AddressRequest.objects.create(kind=AddressRequest.Kind.PASSWORD_RESET, email="known@example.com")
    AddressRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    AddressRequest.objects.create(
        kind=AddressRequest.Kind.PASSWORD_RESET, email="known@example.com"
    )  # its task is on its way
    assert services.address_request_sweep() == 1
    assert AddressRequest.objects.count() == 1 and Email.objects.count() == 1


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_a_failing_request_is_logged_and_dropped(known, monkeypatch):
    def broken(*, email):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(services, "password_reset_request", broken)
    request = AddressRequest.objects.create(kind=AddressRequest.Kind.PASSWORD_RESET, email="known@example.com")
    handler = Records()
    logging.getLogger("accounts").addHandler(handler)
    try:
        assert services.address_request_process(request_id=request.pk) is True
    finally:
        logging.getLogger("accounts").removeHandler(handler)
    assert not AddressRequest.objects.exists() and not Email.objects.exists()
    (record,) = handler.records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"address request {request.pk} (password_reset) failed and is dropped"
    assert "known@example.com" not in record.getMessage()


def test_broker_down_at_commit_the_request_succeeds_and_the_sweep_sends_later(e2e, ses):
    from worker import app

    User.objects.create_user("sita", "sita@example.com", PASSWORD)
    with broker(app, "redis://127.0.0.1:1/0"):  # nothing listens on port 1
        response = Client().post("/auth/forgot-password/", {"email": "sita@example.com"})
    assert response.status_code == 302
    assert AddressRequest.objects.count() == 1  # no task came for it
    AddressRequest.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert services.address_request_sweep() == 1
    wait_all_final()
    assert emails_to(ses, "sita@example.com", "Reset your password")
