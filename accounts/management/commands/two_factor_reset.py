"""``manage.py two_factor_reset USERNAME``: for a staff member who lost both phone and recovery codes."""

from django.core.management.base import BaseCommand, CommandError

from accounts.mfa import services
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Delete every two-factor device of USERNAME and email their address that two-factor was turned off; "
        "the admin asks them to set it up again at their next sign-in."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        services.two_factor_disable(user=user)
        self.stdout.write(
            f"two-factor turned off for {username}; they set it up again at their next admin sign-in "
            f"(an email to their address is queued)"
        )
