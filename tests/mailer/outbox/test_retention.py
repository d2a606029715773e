"""The outbox's retention (mailer.outbox.retention): what goes, what stays, batches, concurrency, command, beat."""

import io
import re
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from mailer import tasks
from mailer.models import Email, EmailEvent
from mailer.outbox.retention import email_retention_purge

DAY = timedelta(days=1)
ZERO = {"emails": 0, "email_events": 0}

_serial = iter(range(10**9))


def make_email(*, created, status=Email.Status.SENT, template="accounts/email/welcome") -> Email:
    email = Email.objects.create(
        template=template, to=f"to{next(_serial)}@example.com", status=status, next_attempt_at=created
    )
    Email.objects.filter(pk=email.pk).update(created_at=created)  # auto_now_add ignores the argument
    return email


def make_event(*, email=None, created) -> EmailEvent:
    event = EmailEvent.objects.create(email=email, message_id=f"m{next(_serial)}", type=EmailEvent.Type.DELIVERY)
    EmailEvent.objects.filter(pk=event.pk).update(created_at=created)
    return event


def populate(now, *, scale: int = 1) -> dict[str, int]:
    """Emails on both sides of the 90-day boundary; return what a purge must delete."""
    for _ in range(scale):
        gone = make_email(created=now - 91 * DAY)
        make_event(email=gone, created=now - 91 * DAY)
        make_email(created=now - 89 * DAY)
    return {"emails": scale, "email_events": scale}


@pytest.fixture
def now():
    return timezone.now()


@pytest.mark.django_db
def test_final_emails_go_after_the_retention_period_with_their_events(now):
    old, young = now - 91 * DAY, now - 89 * DAY
    gone = [make_email(created=old, status=status) for status in Email.FINAL_STATUSES]
    kept = [
        make_email(created=young),
        make_email(created=now - 200 * DAY, status=Email.Status.QUEUED),  # still work to do
        make_email(created=now - 200 * DAY, status=Email.Status.SENDING),
    ]
    event_of_gone = make_event(email=gone[0], created=old)
    event_of_kept = make_event(email=kept[0], created=young)
    old_orphan = make_event(created=old)
    young_orphan = make_event(created=young)

    assert email_retention_purge(now=now) == {"emails": 4, "email_events": 2}
    assert set(Email.objects.values_list("pk", flat=True)) == {e.pk for e in kept}
    assert set(EmailEvent.objects.values_list("pk", flat=True)) == {event_of_kept.pk, young_orphan.pk}
    assert not EmailEvent.objects.filter(pk__in=[event_of_gone.pk, old_orphan.pk]).exists()


@pytest.mark.django_db
def test_retention_follows_the_setting_and_zero_keeps_everything(now, settings):
    make_email(created=now - 11 * DAY)
    make_email(created=now - 9 * DAY)
    settings.MAILER_RETENTION_DAYS = 0
    assert email_retention_purge(now=now) == ZERO
    settings.MAILER_RETENTION_DAYS = 10
    assert email_retention_purge(now=now) == {"emails": 1, "email_events": 0}


@pytest.mark.django_db
def test_dry_run_deletes_nothing_and_reports_what_a_run_deletes(now):
    expected = populate(now, scale=3)
    before = (Email.objects.count(), EmailEvent.objects.count())
    assert email_retention_purge(now=now, dry_run=True) == expected
    assert (Email.objects.count(), EmailEvent.objects.count()) == before
    assert email_retention_purge(now=now) == expected
    assert email_retention_purge(now=now) == ZERO  # twice: nothing left to do
    assert email_retention_purge(now=now, dry_run=True) == ZERO


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_delete_everything_exactly_once(now):
    expected = populate(now, scale=60)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(email_retention_purge(now=now, batch_size=7))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == 2
    assert {kind: results[0][kind] + results[1][kind] for kind in ZERO} == expected
    assert email_retention_purge(now=now, dry_run=True) == ZERO


SUMMARY = re.compile(r"^purge_emails: (\d+) emails, (\d+) email events deleted in \d+\.\d\d s$", re.MULTILINE)


@pytest.mark.django_db
def test_command_prints_the_summary_line(now):
    populate(now, scale=2)
    out = io.StringIO()
    call_command("purge_emails", "--dry-run", stdout=out)
    assert re.fullmatch(
        r"purge_emails: would delete 2 emails, 2 email events \(dry run, counted in \d+\.\d\d s\)\n", out.getvalue()
    )
    out = io.StringIO()
    call_command("purge_emails", stdout=out)
    assert "\r" not in out.getvalue()  # no progress bar when stdout is not a terminal
    assert SUMMARY.fullmatch(out.getvalue().strip()).groups() == ("2", "2")


@pytest.mark.django_db
def test_the_beat_task_purges_old_emails(now):
    expected = populate(now)
    assert tasks.retention.name == "mailer.retention"
    assert tasks.retention.ignore_result is True
    assert tasks.retention() == expected  # the task body, in this process
    assert tasks.retention() == ZERO
