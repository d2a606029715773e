"""``manage.py purge_emails [--dry-run] [--batch-size N]``: the outbox's retention, by hand."""

from common.cleanup_command import CleanupCommand
from mailer.outbox.retention import email_retention_purge


class Command(CleanupCommand):
    help = (
        "Delete sent, failed, expired and suppressed emails older than MAILER_RETENTION_DAYS, with their "
        "SES events: the nightly retention (beat task mailer.retention), by hand. Prints what it deleted."
    )
    name = "purge_emails"
    labels = {"emails": "emails", "email_events": "email events"}

    def run(self, *, dry_run, batch_size, progress):
        return email_retention_purge(dry_run=dry_run, batch_size=batch_size, progress=progress)
