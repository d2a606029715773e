"""``manage.py mailstats [--since 24h] [--json] [--min-sent N]``: what the outbox did lately (mailer.ops.report).

For cron and monitoring: the exit status is 2 when the bounce or the complaint rate
is at or over SES's review threshold (5 %, 0.1 %) over at least ``--min-sent``
emails sent in the window (default MAILER_ALERT_MIN_SENT), 1 for a usage error, 0
otherwise. The report is printed either way; the reason goes to stderr.
"""

import json

from django.conf import settings
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
        parser.add_argument(
            "--min-sent",
            type=int,
            default=None,
            help="Judge the rates only over at least this many emails sent (default MAILER_ALERT_MIN_SENT). "
            "Exit status 2 when a rate is at or over SES's review threshold.",
        )

    def handle(self, *, since: str, as_json: bool, min_sent: int | None, **options):
        try:
            window = report.parse_duration(since)
        except ValueError as exc:
            raise CommandError(f"--since: {exc}") from None
        figures = report.mail_stats(since=window, label=since.strip().lower())
        self.stdout.write(json.dumps(figures, indent=2) if as_json else report.render_text(figures))
        minimum = settings.MAILER_ALERT_MIN_SENT if min_sent is None else min_sent
        over = report.over_thresholds(figures, min_sent=minimum)
        if over:
            raise CommandError("; ".join(over), returncode=2)
