"""``manage.py mailcheck [--to ADDRESS] [--timeout 60]``: will email work? (see mailer.ops.mailcheck)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from mailer.ops import mailcheck


class Command(BaseCommand):
    help = (
        "Check the configured email backend without sending (SES: credentials, account, quota, verified "
        "sender; SMTP: connection, TLS, login). With --to, also check the broker and the workers, send a "
        "test email through the whole pipeline and wait for its outcome."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", metavar="ADDRESS", help="Send a test email to ADDRESS and wait for it.")
        parser.add_argument(
            "--timeout", type=float, default=60.0, help="Seconds to wait for the test email (default 60)."
        )

    def handle(self, *, to: str | None, timeout: float, **options):
        if to:
            try:
                validate_email(to)
            except ValidationError:
                raise CommandError(f"--to: {to!r} is not an email address.") from None
        findings = mailcheck.check_backend(recipient=to)
        self.stdout.write(f"backend: {mailcheck.backend_kind()} ({self._backend_name()})")
        problems = self._report(findings)
        if to and not problems:
            pipeline = [mailcheck.check_broker()]
            if pipeline[0].ok:
                pipeline.append(mailcheck.check_workers())
            problems = self._report(pipeline)
            if not problems:
                self.stdout.write(f"sending a test email to {to} (waiting up to {timeout:g} s)...")
                problems = self._report([mailcheck.describe_outcome(mailcheck.send_test(to=to, timeout=timeout))])
        elif to:
            self.stdout.write("test email not sent: fix the problems above first.")
        if problems:
            raise CommandError(f"{problems} problem(s) found.")
        self.stdout.write(self.style.SUCCESS("mailcheck: all good."))

    def _backend_name(self) -> str:
        from django.conf import settings

        return settings.EMAIL_BACKEND

    def _report(self, findings) -> int:
        """Print each finding; return how many are problems."""
        for finding in findings:
            mark = self.style.SUCCESS("ok  ") if finding.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {finding.label:<12} {finding.detail}")
            if finding.hint and not finding.ok:
                self.stdout.write(f"     {'':<12} → {finding.hint}")
        return sum(not f.ok for f in findings)
