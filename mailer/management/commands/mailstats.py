"""``manage.py mailstats [--since 24h] [--json]``: what the outbox did lately (see mailer.ops.report)."""

import json

from django.core.management.base import BaseCommand, CommandError

from mailer.ops import report


class Command(BaseCommand):
    help = (
        "Counts by status and kind, bounce and complaint rates against SES's thresholds, the oldest "
        "queued email and the 24 h quota use, over the last 24 h or --since."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", default="24h", help="The window: a duration such as 30m, 2h, 7d, 1d12h (default 24h)."
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object, for scripts.")

    def handle(self, *, since: str, as_json: bool, **options):
        try:
            window = report.parse_duration(since)
        except ValueError as exc:
            raise CommandError(f"--since: {exc}") from None
        figures = report.mail_stats(since=window, label=since.strip().lower())
        self.stdout.write(json.dumps(figures, indent=2) if as_json else report.render_text(figures))

