"""Management commands that run a batched cleanup: a progress bar per kind, then one summary line."""

import time

from django.core.management.base import BaseCommand, CommandError

from .batches import BATCH_SIZE


class ProgressBar:
    """A one-line text bar per kind, redrawn with a carriage return (terminals only).

    Called as ``bar(kind, done, total)``, the ``batches.Progress`` signature; ``labels``
    names each kind for people.
    """

    WIDTH = 30

    def __init__(self, out, labels: dict[str, str]):
        self.out = out
        self.labels = labels
        self.kind = None

    def __call__(self, kind: str, done: int, total: int) -> None:
        if kind != self.kind:
            self.finish()
            self.kind = kind
        fraction = min(1.0, done / total) if total else 1.0
        filled = round(self.WIDTH * fraction)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        label = self.labels.get(kind, kind)
        self.out.write(f"\r{label:<20} [{bar}] {done:>9,}/{total:,} {fraction:>4.0%}", ending="")
        self.out.flush()

    def finish(self) -> None:
        """End the current bar's line (call once the work is done)."""
        if self.kind is not None:
            self.out.write("")
            self.kind = None


def summary(name: str, counts: dict[str, int], labels: dict[str, str], *, dry_run: bool, seconds: float) -> str:
    """``<name>: 12 verification tokens, 3 reset tokens deleted in 0.21 s`` (kinds in ``labels``' order)."""
    parts = ", ".join(f"{counts[kind]} {label}" for kind, label in labels.items() if kind in counts)
    if dry_run:
        return f"{name}: would delete {parts} (dry run, counted in {seconds:.2f} s)"
    return f"{name}: {parts} deleted in {seconds:.2f} s"


class CleanupCommand(BaseCommand):
    """A management command that runs a batched cleanup and prints what it deleted.

    Subclasses set ``name`` (the summary's first word), ``labels`` ({kind: words},
    in print order) and ``run(dry_run=, batch_size=, progress=)``, which returns
    ``{kind: rows}``.
    """

    name = "cleanup"
    labels: dict[str, str] = {}

    def run(self, *, dry_run: bool, batch_size: int, progress) -> dict[str, int]:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help=f"Rows per delete transaction (default {BATCH_SIZE})."
        )

    def handle(self, *, dry_run: bool, batch_size: int, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        bar = ProgressBar(self.stdout, self.labels) if self.stdout.isatty() and not dry_run else None
        started = time.monotonic()
        try:
            counts = self.run(dry_run=dry_run, batch_size=batch_size, progress=bar)
        finally:
            if bar:
                bar.finish()
        self.stdout.write(summary(self.name, counts, self.labels, dry_run=dry_run, seconds=time.monotonic() - started))
