"""``mailer.outbox.state``: every status change, one guarded statement each; every attempt's error kept.

What the statements return and change, on PostgreSQL and on SQLite (``make run``'s
default); the race between workers for the same rows is here too.
"""

import json
import secrets
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mailer.models import Email
from mailer.outbox import state
from tests.support.outbox import all_final, queue_many

Status = Email.Status
ROOT = Path(__file__).resolve().parents[3]
OWNER = "host-a:100:abcdef"


def queued(**fields) -> Email:
    defaults = {
        "template": "accounts/email/welcome",
        "to": "Sita@Example.com",
        "next_attempt_at": timezone.now(),
        "context": {"first_name": "सीता", "n": 1},
        "errors": [{"attempt": 1, "error": "x"}],
    }
    return Email.objects.create(**{**defaults, **fields})


def test_a_claimed_row_is_the_row_as_the_orm_reads_it(db, settings):
    email = queued(expires_at=timezone.now() + timedelta(hours=72))
    before = timezone.now()

    (claimed,) = state.claim_due(limit=5, owner=OWNER)

    stored = Email.objects.get(pk=email.pk)
    for field in Email._meta.concrete_fields:
        assert getattr(claimed, field.attname) == getattr(stored, field.attname), field.name
    assert (stored.status, stored.attempts, stored.claimed_by) == (Status.SENDING, 1, OWNER)
    assert stored.context == {"first_name": "सीता", "n": 1} and stored.errors == [{"attempt": 1, "error": "x"}]
    lease = stored.lease_expires_at - before
    assert (
        timedelta(seconds=settings.MAILER_LEASE_SECONDS) <= lease < timedelta(seconds=settings.MAILER_LEASE_SECONDS + 5)
    )
    assert claimed._state.adding is False and claimed._state.db == "default"


def test_security_email_is_claimed_first_then_the_oldest(db):
    now = timezone.now()
    old_bulk = queued(to="old-bulk@example.com", next_attempt_at=now - timedelta(minutes=5))
    new_high = queued(to="new-high@example.com", priority=Email.Priority.HIGH, next_attempt_at=now)
    old_high = queued(
        to="old-high@example.com", priority=Email.Priority.HIGH, next_attempt_at=now - timedelta(minutes=1)
    )
    new_bulk = queued(to="new-bulk@example.com", next_attempt_at=now)
    queued(to="later@example.com", priority=Email.Priority.HIGH, next_attempt_at=now + timedelta(minutes=1))

    first = state.claim_due(limit=3, owner=OWNER)
    assert [e.pk for e in first] == [old_high.pk, new_high.pk, old_bulk.pk]
    assert [e.pk for e in state.claim_due(limit=3, owner=OWNER)] == [new_bulk.pk]  # the future one waits
    assert state.claim_due(limit=3, owner=OWNER) == []


def test_a_claim_takes_no_more_bulk_email_than_the_quota_leaves_it(db):
    now = timezone.now()
    bulk = [queued(to=f"bulk{i}@example.com", next_attempt_at=now - timedelta(minutes=5)) for i in range(3)]
    high = [queued(to=f"high{i}@example.com", priority=Email.Priority.HIGH, next_attempt_at=now) for i in range(2)]
    claimed = state.claim_due(limit=5, owner=OWNER, bulk_limit=1)
    assert [e.pk for e in claimed] == [high[0].pk, high[1].pk, bulk[0].pk]
    assert state.claim_due(limit=5, owner=OWNER, bulk_limit=0) == []  # only the security reserve is left
    assert [e.pk for e in state.claim_due(limit=5, owner=OWNER)] == [bulk[1].pk, bulk[2].pk]


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

    assert state.claim_due(limit=10, owner=OWNER) == []
    assert Email.objects.filter(pk=email.pk).values().get() == before


def test_a_claim_is_one_statement_whatever_the_batch(db):
    for i in range(40):
        queued(to=f"p{i}@example.com", priority=Email.Priority.HIGH if i % 4 == 0 else Email.Priority.BULK)
    with CaptureQueriesContext(connection) as queries:
        claimed = state.claim_due(limit=25, owner=OWNER)
    assert len(claimed) == 25 and len(queries) == 1
    assert [e.priority for e in claimed[:10]] == ["high"] * 10 and {e.priority for e in claimed[10:]} == {"bulk"}


def test_workers_claiming_at_once_take_different_rows(transactional_db):
    """SKIP LOCKED: each row goes to one worker, and no worker waits for another's rows."""
    for i in range(200):
        queued(to=f"race{i}@example.com")
    barrier = threading.Barrier(4)
    taken: dict[str, list[int]] = {}

    def worker(owner: str) -> None:
        barrier.wait()
        mine = []
        while batch := state.claim_due(limit=7, owner=owner):
            mine += [e.pk for e in batch]
        taken[owner] = mine
        connections.close_all()

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [pk for rows in taken.values() for pk in rows]
    assert len(every) == len(set(every)) == 200
    assert sum(1 for rows in taken.values() if rows) >= 2  # they really raced
    for owner, rows in taken.items():
        assert set(Email.objects.filter(claimed_by=owner).values_list("pk", flat=True)) == set(rows)


def test_mark_sent_records_a_batch_in_one_statement_and_erases_secrets(db):
    emails = [
        queued(to=f"s{i}@example.com", secret_context="ciphertext", last_error="Throttling: earlier") for i in range(5)
    ]
    state.claim_due(limit=5, owner=OWNER)
    before = timezone.now()

    with CaptureQueriesContext(connection) as queries:
        assert state.mark_sent([(e.pk, f"0100-{e.pk}") for e in emails], owner=OWNER) == 5
    assert len(queries) == 1

    for email in Email.objects.filter(pk__in=[e.pk for e in emails]):
        assert (email.status, email.message_id, email.last_error, email.secret_context, email.claimed_by) == (
            Status.SENT,
            f"0100-{email.pk}",
            "",
            "",
            "",
        )
        assert email.lease_expires_at is None and before <= email.sent_at == email.updated_at <= timezone.now()
        assert email.context == {"first_name": "सीता", "n": 1} and email.errors == [{"attempt": 1, "error": "x"}]


def test_only_the_worker_holding_a_row_records_its_outcome(db):
    """A worker whose lease ran out, and whose row another worker took, changes nothing."""
    email = queued()
    (mine,) = state.claim_due(limit=1, owner="late")
    Email.objects.filter(pk=email.pk).update(claimed_by="taker")  # taken back and claimed again
    before = Email.objects.filter(pk=email.pk).values().get()

    assert state.mark_sent([(email.pk, "0100-late")], owner="late") == 0
    assert state.finish(mine, Status.FAILED, error="x", owner="late") is False
    assert state.requeue(mine, due_at=timezone.now(), error="x", owner="late") is False
    assert state.release([email.pk], owner="late") == 0
    assert Email.objects.filter(pk=email.pk).values().get() == before


def test_release_gives_the_attempt_back_and_records_nothing(db):
    email = queued(errors=[])
    state.claim_due(limit=1, owner=OWNER)
    assert state.release([email.pk], owner=OWNER) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts, email.claimed_by, email.errors, email.lease_expires_at) == (
        Status.QUEUED,
        0,
        "",
        [],
        None,
    )


def test_requeue_keeps_the_error_and_marks_the_providers(db):
    email = queued(errors=[])
    (claimed,) = state.claim_due(limit=1, owner=OWNER)
    due = timezone.now() + timedelta(seconds=30)
    assert state.requeue(claimed, due_at=due, error="ServiceUnavailable: 503", owner=OWNER, provider=True)
    email.refresh_from_db()
    assert (email.status, email.attempts, email.next_attempt_at, email.last_error) == (
        Status.QUEUED,
        1,
        due,
        "ServiceUnavailable: 503",
    )
    assert email.errors[0]["provider"] is True and email.errors[0]["attempt"] == 1
    assert state.own_failures(email) == 0
    Email.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    (claimed,) = state.claim_due(limit=1, owner=OWNER)
    state.requeue(claimed, due_at=timezone.now(), error="SMTP 451: try later", owner=OWNER)
    email.refresh_from_db()
    assert email.attempts == 2 and state.own_failures(email) == 1 and "provider" not in email.errors[1]


def test_renew_and_reclaim(db, settings):
    mine, other, stale = queued(to="m@x.test"), queued(to="o@x.test"), queued(to="s@x.test")
    state.claim_due(limit=1, owner=OWNER)
    state.claim_due(limit=1, owner="other")
    state.claim_due(limit=1, owner="dead")
    Email.objects.filter(claimed_by__in=[OWNER, "other", "dead"]).update(lease_expires_at=timezone.now())

    ids = list(Email.objects.values_list("pk", flat=True))
    assert state.renew(owner=OWNER, ids=[]) == 0
    assert state.renew(owner=OWNER, ids=ids) == 1  # only its own of the rows it names
    now = timezone.now() + timedelta(seconds=1)
    assert state.reclaim_expired(now=now) == 2  # the renewed one stays with its worker
    held = Email.objects.get(claimed_by=OWNER)
    assert held.lease_expires_at > now + timedelta(seconds=settings.MAILER_LEASE_SECONDS - 2)
    for email in Email.objects.exclude(claimed_by=OWNER):
        assert (email.status, email.claimed_by, email.attempts) == (Status.QUEUED, "", 1)
        assert email.last_error.startswith("Lease expired")
    assert {mine.pk, other.pk, stale.pk} == set(Email.objects.values_list("pk", flat=True))


def test_renew_leaves_a_claim_the_drain_let_go(db):
    """A row the owner still holds but no longer names (its outcome could not be recorded) lapses."""
    kept, dropped = queued(to="k@x.test"), queued(to="d@x.test")
    state.claim_due(limit=2, owner=OWNER)
    Email.objects.update(lease_expires_at=timezone.now())
    assert state.renew(owner=OWNER, ids=[kept.pk]) == 1
    assert state.reclaim_expired(now=timezone.now() + timedelta(seconds=1)) == 1
    assert Email.objects.get(pk=dropped.pk).status == Status.QUEUED


def test_a_reclaimed_row_goes_out_ahead_of_the_backlog_queued_after_it(db):
    first = queued(to="first@x.test")
    state.claim_due(limit=1, owner="dead")
    later = queued(to="later@x.test", next_attempt_at=timezone.now())  # the backlog since
    Email.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now())
    assert state.reclaim_expired(now=timezone.now() + timedelta(seconds=1)) == 1
    assert [e.pk for e in state.claim_due(limit=1, owner=OWNER)] == [first.pk]
    assert later.pk != first.pk


def test_next_due_in(db):
    now = timezone.now()
    assert state.next_due_in(now=now) is None
    queued(next_attempt_at=now + timedelta(seconds=30))
    assert 29 < state.next_due_in(now=now) <= 30
    queued(next_attempt_at=now - timedelta(seconds=5))
    assert state.next_due_in(now=now) == 0
    assert state.next_due_in(now=now, priority=Email.Priority.HIGH) is None


SQLITE_SCRIPT = """
import json
from django.core.management import call_command
from django.utils import timezone
from mailer.outbox import state
from mailer.outbox.suppression import suppressed, suppressed_among
from mailer.models import Email, Suppression
call_command("migrate", verbosity=0)
Suppression.objects.create(address="Gone@Example.com", reason="bounce")
now = timezone.now()
bulk = Email.objects.create(template="t", to="A@Example.com", context={"a": "सीता"}, next_attempt_at=now)
high = Email.objects.create(template="t", to="B@Example.com", priority="high", next_attempt_at=now)
first = state.claim_due(limit=5, owner="w")
second = state.claim_due(limit=5, owner="w")
marked = state.mark_sent([(e.pk, "0100-%d" % e.pk) for e in first], owner="w")
sent = list(Email.objects.order_by("pk").values_list("status", "message_id", "claimed_by"))
print(json.dumps({"order": [e.priority for e in first], "context": first[1].context, "second": second,
                  "marked": marked, "sent": sent,
                  "suppressed": [suppressed("gone@example.COM"), suppressed("a@example.com")],
                  "among": sorted(suppressed_among(["GONE@example.com", "a@example.com"]))}))
"""


def test_the_claim_works_on_sqlite(tmp_path):
    """``make run`` and a fresh checkout use SQLite: RETURNING needs SQLite 3.35 or newer."""
    env = {
        "DJANGO_SETTINGS_MODULE": "electnepal.settings",
        "READ_DOT_ENV": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SITE_URL": "https://electnepal.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "LOG_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + SQLITE_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "order": ["high", "bulk"],
        "context": {"a": "सीता"},
        "second": [],
        "marked": 2,
        "sent": [["sent", "0100-1", ""], ["sent", "0100-2", ""]],
        "suppressed": [True, False],
        "among": ["GONE@example.com"],
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
    assert all(e["provider"] for e in email.errors)  # the provider's trouble: MAILER_MAX_ATTEMPTS untouched
