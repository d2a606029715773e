"""``mailer.outbox.state``: the claim and the send record, one statement each; every attempt's error kept.

The race between workers for one row is in test_delivery.py; here, what the
statement returns and changes, on PostgreSQL and on SQLite (``make run``'s default).
"""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from mailer.models import Email
from mailer.outbox.state import claim, mark_sent
from tests.support.outbox import all_final, queue_many

Status = Email.Status
ROOT = Path(__file__).resolve().parents[3]


def queued(**fields) -> Email:
    defaults = {"template": "accounts/email/welcome", "to": "Sita@Example.com", "next_attempt_at": timezone.now(),
                "context": {"first_name": "सीता", "n": 1}, "errors": [{"attempt": 1, "error": "x"}]}
    return Email.objects.create(**{**defaults, **fields})


def test_the_claimed_row_is_the_row_as_the_orm_reads_it(db, settings):
    email = queued(expires_at=timezone.now() + timedelta(hours=72))
    before = timezone.now()

    claimed = claim(email.pk)

    stored = Email.objects.get(pk=email.pk)
    assert claimed is not None
    for field in Email._meta.concrete_fields:
        assert getattr(claimed, field.attname) == getattr(stored, field.attname), field.name
    assert (stored.status, stored.attempts) == (Status.SENDING, 1)
    assert stored.context == {"first_name": "सीता", "n": 1} and stored.errors == [{"attempt": 1, "error": "x"}]
    lease = stored.lease_expires_at - before
    assert timedelta(seconds=settings.MAILER_LEASE_SECONDS) <= lease < timedelta(seconds=settings.MAILER_LEASE_SECONDS + 5)
    assert claimed._state.adding is False and claimed._state.db == "default"


@pytest.mark.parametrize(
    "fields",
    [
        {"next_attempt_at": timezone.now() + timedelta(minutes=5)},  # not due yet
        {"status": Status.SENDING},  # someone else has it
        {"status": Status.SENT},
    ],
    ids=["not-due", "sending", "sent"],
)
def test_nothing_is_claimed_unless_queued_and_due(db, fields):
    email = queued(**fields)
    before = Email.objects.filter(pk=email.pk).values().get()

    assert claim(email.pk) is None
    assert Email.objects.filter(pk=email.pk).values().get() == before


def test_a_second_claim_of_the_same_row_gets_nothing(db):
    email = queued()
    assert claim(email.pk) is not None
    assert claim(email.pk) is None
    assert Email.objects.get(pk=email.pk).attempts == 1


def test_mark_sent_records_the_send_and_erases_the_secret_context(db):
    email = queued(secret_context="ciphertext-of-a-link", last_error="Throttling: earlier attempt")
    claim(email.pk)
    before = timezone.now()

    assert mark_sent(email.pk, "0100-ses-message-id") is True

    stored = Email.objects.get(pk=email.pk)
    assert (stored.status, stored.message_id, stored.last_error, stored.secret_context) == (
        Status.SENT, "0100-ses-message-id", "", "")
    assert stored.lease_expires_at is None and before <= stored.sent_at == stored.updated_at <= timezone.now()
    assert stored.context == {"first_name": "सीता", "n": 1} and stored.errors == [{"attempt": 1, "error": "x"}]


def test_mark_sent_changes_nothing_unless_the_row_is_claimed(db):
    email = queued()
    before = Email.objects.filter(pk=email.pk).values().get()

    assert mark_sent(email.pk, "0100-late") is False
    assert Email.objects.filter(pk=email.pk).values().get() == before


SQLITE_SCRIPT = """
import json
from django.core.management import call_command
from django.utils import timezone
from mailer.outbox.state import claim, mark_sent
from mailer.outbox.suppression import suppressed
from mailer.models import Email, Suppression
call_command("migrate", verbosity=0)
Suppression.objects.create(address="Gone@Example.com", reason="bounce")
email = Email.objects.create(template="t", to="A@Example.com", context={"a": "सीता"}, next_attempt_at=timezone.now())
first, second = claim(email.pk), claim(email.pk)
stored = Email.objects.get(pk=email.pk)
marked = mark_sent(email.pk, "0100-id")
sent = Email.objects.get(pk=email.pk)
print(json.dumps({"status": first.status, "attempts": first.attempts, "context": first.context,
                  "second": second is None, "stored": stored.status,
                  "same_lease": first.lease_expires_at == stored.lease_expires_at,
                  "suppressed": [suppressed("gone@example.COM"), suppressed("a@example.com")],
                  "sent": [marked, sent.status, sent.message_id, sent.sent_at is not None, sent.lease_expires_at]}))
"""


def test_the_claim_works_on_sqlite(tmp_path):
    """``make run`` and a fresh checkout use SQLite: RETURNING needs SQLite 3.35 or newer."""
    env = {"DJANGO_SETTINGS_MODULE": "electnepal.settings", "READ_DOT_ENV": "false", "SECRET_KEY": "tests-only-key",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "LOG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()\n" + SQLITE_SCRIPT], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "status": "sending", "attempts": 1, "context": {"a": "सीता"}, "second": True,
        "stored": "sending", "same_lease": True, "suppressed": [True, False], "sent": [True, "sent", "0100-id", True, None],
    }


def test_every_attempts_error_is_kept(e2e, ses):
    ses.faults.inject("throttling-v2")
    ses.faults.inject("unavailable")
    (email,) = queue_many(1)
    all_final()
    email.refresh_from_db()
    assert email.status == Email.Status.SENT and email.attempts == 3
    assert [e["attempt"] for e in email.errors] == [1, 2]
    assert "TooManyRequestsException" in email.errors[0]["error"] and "503" in email.errors[1]["error"]
