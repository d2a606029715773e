"""``manage.py cleanup_tokens [--dry-run]``: the nightly cleanup, by hand."""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts.cleanup import BATCH_SIZE, cleanup

LABELS = {
    "verification_tokens": "verification tokens",
    "reset_tokens": "reset tokens",
    "unverified_users": "unverified users",
    "emails": "emails",
    "email_events": "email events",
}


class ProgressBar:
    """A one-line text bar per kind, redrawn with a carriage return (terminals only)."""

    WIDTH = 30

    def __init__(self, out):
        self.out = out
        self.kind = None

    def __call__(self, kind: str, done: int, total: int) -> None:
        if kind != self.kind:
            self.finish()
            self.kind = kind
        fraction = min(1.0, done / total) if total else 1.0
        filled = round(self.WIDTH * fraction)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.out.write(f"\r{LABELS.get(kind, kind):<20} [{bar}] {done:>9,}/{total:,} {fraction:>4.0%}", ending="")
        self.out.flush()

    def finish(self) -> None:
        if self.kind is not None:
            self.out.write("")  # ends the bar's line
            self.kind = None


def summary(counts: dict[str, int], *, dry_run: bool, seconds: float) -> str:
    """``cleanup: 12 verification tokens, 3 reset tokens, … deleted in 0.21 s``."""
    parts = ", ".join(f"{counts[kind]} {LABELS[kind]}" for kind in LABELS if kind in counts)
    if dry_run:
        return f"cleanup: would delete {parts} (dry run, counted in {seconds:.2f} s)"
    return f"cleanup: {parts} deleted in {seconds:.2f} s"


class Command(BaseCommand):
    help = (
        "Delete expired or used tokens, accounts never verified, and outbox emails past their "
        "retention: the nightly cleanup, by hand. Prints what it deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"Rows per delete transaction (default {BATCH_SIZE})."
        )

    def handle(self, *, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        bar = ProgressBar(self.stdout) if self.stdout.isatty() and not dry_run else None
        started = time.monotonic()
        try:
            counts = cleanup(dry_run=dry_run, batch_size=batch_size, progress=bar)
        finally:
            if bar:
                bar.finish()
        self.stdout.write(summary(counts, dry_run=dry_run, seconds=time.monotonic() - started))
