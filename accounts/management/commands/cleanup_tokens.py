"""``manage.py cleanup_tokens [--dry-run] [--batch-size N]``: the accounts' nightly cleanup, by hand."""

from accounts.cleanup import cleanup
from common.cleanup_command import CleanupCommand


class Command(CleanupCommand):
    help = (
        "Delete expired or used tokens and accounts never verified: the nightly cleanup, by hand. "
        "Prints what it deleted. (Old outbox emails: manage.py purge_emails.)"
    )
    name = "cleanup"
    labels = {
        "verification_tokens": "verification tokens",
        "reset_tokens": "reset tokens",
        "unverified_users": "unverified users",
        "email_changes": "address changes",
    }

    def run(self, *, dry_run, batch_size, progress):
        return cleanup(dry_run=dry_run, batch_size=batch_size, progress=progress)
