"""Outbox retention: old emails in a final state are deleted, with their SES events.

The outbox is a log as well as a queue. Rows in a final state (sent, failed,
expired, suppressed) are kept MAILER_RETENTION_DAYS days (default 90; 0 keeps them
forever) for the admin's email log and ``mailstats``, then deleted by the mailer's
own nightly beat task, ``mailer.retention`` (by hand: ``manage.py purge_emails``).

Rows still queued or sending are never deleted, whatever their age: they are work.
EmailEvent rows (SES delivery, bounce and complaint notifications) go with their
email: the model's SET_NULL would keep them, recipient address and payload
included, as orphans forever. Orphans that already exist (an event for a message
id we never knew) go once older than the retention period.

Deletion takes batches of ids, each in its own short transaction, so no lock is
held for long and a worker or the admin is never blocked for more than a batch.
Each batch is picked with ``SELECT ... FOR UPDATE SKIP LOCKED``, so two concurrent
runs take disjoint batches: their counts add up to the rows that existed.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from common.batches import BATCH_SIZE, Progress, delete_in_batches

from ..models import Email, EmailEvent


def retention_days() -> int:
    """How many days a final email is kept (settings.MAILER_RETENTION_DAYS, default 90)."""
    return int(getattr(settings, "MAILER_RETENTION_DAYS", 90))


def email_retention_purge(
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Delete final emails created more than MAILER_RETENTION_DAYS ago, and their events.

    Returns ``{"emails": n, "email_events": m}``: what was deleted, or with
    ``dry_run`` what would be (nothing is deleted then). ``now`` fixes the clock
    (tests); ``progress`` is called as described at ``Progress``. Safe to run twice
    or concurrently.
    """
    days = retention_days()
    if days <= 0:
        return {"emails": 0, "email_events": 0}
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old_emails = Email.objects.filter(status__in=Email.FINAL_STATUSES, created_at__lt=cutoff)
    orphan_events = EmailEvent.objects.filter(email__isnull=True, created_at__lt=cutoff)

    if dry_run:
        return {
            "emails": old_emails.count(),
            "email_events": EmailEvent.objects.filter(email__in=old_emails).count() + orphan_events.count(),
        }
    events = 0

    def delete_emails(ids: list[int]) -> int:
        nonlocal events
        # Events first: with them gone, deleting the emails has nothing to SET_NULL.
        events += EmailEvent.objects.filter(email_id__in=ids).delete()[0]
        return Email.objects.filter(pk__in=ids).delete()[1].get(Email._meta.label, 0)

    emails = delete_in_batches(
        old_emails, delete=delete_emails, batch_size=batch_size, kind="emails", progress=progress
    )
    events += delete_in_batches(orphan_events, batch_size=batch_size)
    return {"emails": emails, "email_events": events}
