"""``mailer.outbox.erasure``: the emails to a deleted account lose their personal data once final.

A final row is erased at once, with its SES events; a row still queued or being
sent keeps its address until the statement that ends it (``state.mark_sent``,
``state.finish``) erases it; an event SES reports later names no one; a
rollback erases nothing; other people's emails are untouched.
"""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from mailer import api as mail
from mailer.models import Email, EmailEvent
from mailer.outbox import state
from mailer.ses import events
from tests.support.ses_events import ses_message

Status = Email.Status
OWNER = "host-a:100:abcdef"
PERSONAL = {"first_name": "सीता", "username": "sita"}


def row(to="Sita@Example.com", status=Status.QUEUED, **fields) -> Email:
    now = timezone.now()
    defaults = {
        "template": "accounts/email/welcome",
        "to": to,
        "next_attempt_at": now,
        "status": status,
        "context": PERSONAL,
        "errors": [{"attempt": 1, "error": f"MessageRejected: {to}"}],
        "last_error": f"MessageRejected: {to}",
    }
    if status == Status.SENT:
        defaults.update(message_id=f"0100{uuid.uuid4().hex}", sent_at=now, errors=[], last_error="")
    return Email.objects.create(**{**defaults, **fields})


def personal(email: Email) -> tuple:
    email.refresh_from_db()
    return email.to, email.context, email.errors, email.last_error


ERASED = ("", {}, [], "")


def test_final_rows_are_erased_at_once_with_their_events(db):
    sent = row(status=Status.SENT)
    failed = row(to="sita@example.com", status=Status.FAILED)
    EmailEvent.objects.create(
        email=sent,
        message_id=sent.message_id,
        type="delivery",
        recipient=sent.to,
        payload={"mail": {"destination": [sent.to]}},
    )
    other = row(to="ram@example.com", status=Status.SENT)

    counts = mail.recipient_erase(addresses=["SITA@example.com"])

    assert counts == {"erased": 2, "flagged": 0, "email_events": 1}
    assert personal(sent) == ERASED and personal(failed) == ERASED
    assert not EmailEvent.objects.exists()
    # What the counts need stays: kind, status, message id, timestamps.
    sent.refresh_from_db()
    assert (sent.template, sent.status, sent.sent_at is not None, sent.erase_when_final) == (
        "accounts/email/welcome",
        Status.SENT,
        True,
        True,
    )
    assert personal(other)[0] == "ram@example.com" and personal(other)[1] == PERSONAL


def test_a_queued_row_keeps_its_address_until_it_is_sent(db):
    email = row()
    assert mail.recipient_erase(addresses=["sita@example.com"]) == {"erased": 0, "flagged": 1, "email_events": 0}
    assert personal(email)[0] == "Sita@Example.com"  # still needed to send it

    (claimed,) = state.claim_due(limit=1, owner=OWNER)
    assert claimed.to == "Sita@Example.com"
    assert state.mark_sent([(email.pk, "0100-abc")], owner=OWNER) == 1
    assert personal(email) == ERASED
    email.refresh_from_db()
    assert (email.status, email.message_id) == (Status.SENT, "0100-abc")


def test_a_row_flagged_while_being_sent_is_erased_by_the_send(db):
    email = row()
    (claimed,) = state.claim_due(limit=1, owner=OWNER)
    mail.recipient_erase(addresses=["sita@example.com"])  # the account goes while the worker sends
    assert not claimed.erase_when_final  # the worker's copy predates the flag: the statement reads the column
    state.mark_sent([(email.pk, "0100-abc")], owner=OWNER)
    assert personal(email) == ERASED


@pytest.mark.parametrize("status", [Status.FAILED, Status.EXPIRED, Status.SUPPRESSED])
def test_a_flagged_row_that_ends_otherwise_is_erased_too(db, status):
    email = row()
    (claimed,) = state.claim_due(limit=1, owner=OWNER)
    mail.recipient_erase(addresses=["sita@example.com"])
    assert state.finish(claimed, status, error="MessageRejected: Sita@Example.com", owner=OWNER)
    assert personal(email) == ERASED
    email.refresh_from_db()
    assert email.status == status


def test_unflagged_rows_end_as_before(db):
    email = row(to="ram@example.com")
    (claimed,) = state.claim_due(limit=1, owner=OWNER)
    state.finish(claimed, Status.FAILED, error="MessageRejected: x", owner=OWNER)
    to, context, errors, last_error = personal(email)
    assert (to, context, last_error) == ("ram@example.com", PERSONAL, "MessageRejected: x")
    assert [e["error"] for e in errors] == ["MessageRejected: ram@example.com", "MessageRejected: x"]


def test_a_rollback_erases_nothing(db):
    sent, queued = row(status=Status.SENT), row()

    def erase_then_fail():
        with transaction.atomic():
            mail.recipient_erase(addresses=["sita@example.com"])
            raise RuntimeError("the deletion failed")

    with pytest.raises(RuntimeError, match="the deletion failed"):
        erase_then_fail()
    assert personal(sent)[0] == personal(queued)[0] == "Sita@Example.com"
    assert not Email.objects.filter(erase_when_final=True).exists()


def test_since_leaves_older_rows_alone(db):
    old = row(status=Status.SENT)
    Email.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    new = row(status=Status.SENT)
    mail.recipient_erase(addresses=["sita@example.com"], since=timezone.now() - timedelta(days=1))
    assert personal(old)[0] == "Sita@Example.com" and personal(new) == ERASED


def test_an_event_reported_after_the_erasure_names_no_one(db):
    email = row(status=Status.SENT)
    mail.recipient_erase(addresses=["sita@example.com"])
    message = json.loads(ses_message("Bounce", message_id=email.message_id, to="Sita@Example.com"))
    assert events.ses_event_record(sns_message_id=str(uuid.uuid4()), message=message) == events.RECORDED
    (event,) = EmailEvent.objects.all()
    assert (event.email_id, event.type, event.recipient, event.payload) == (email.pk, "bounce", "", {})
    email.refresh_from_db()
    assert email.delivery_status == "bounced"  # still counted in the bounce rate


def test_nothing_to_erase(db):
    assert mail.recipient_erase(addresses=["", "  "]) == {"erased": 0, "flagged": 0, "email_events": 0}
