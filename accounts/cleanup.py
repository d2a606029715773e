"""The accounts' nightly cleanup: dead tokens and never-verified accounts.

``cleanup()`` is the one function behind both the beat task ``accounts.cleanup``
(02:00 Asia/Kathmandu, see migration 0002) and ``manage.py cleanup_tokens``. It deletes:

- verification tokens older than ACCOUNTS_VERIFICATION_TTL_HOURS (72 h), verified or
  not: an unverified one can no longer be used, and a verified one is no longer
  needed (the user row keeps ``email_verified_at``). A link clicked after that
  answers "unknown link" instead of "already verified";
- password-reset tokens that were used, or are older than
  ACCOUNTS_PASSWORD_RESET_TTL_HOURS (24 h);
- address-change links (EmailChange) that were used, or are older than
  ACCOUNTS_EMAIL_CHANGE_TTL_HOURS (72 h): with them goes the address they named;
- accounts that were never verified (``email_verified_at`` empty, inactive, neither
  staff nor superuser: pending sign-ups) and joined more than
  ACCOUNTS_UNVERIFIED_USER_DAYS days ago (default 30; 0 keeps them), which frees their
  usernames (a pending sign-up never holds its address: accounts.models.HOLDS_ADDRESS). An account
  with a live password-reset link is kept: its owner is taking it back (a
  completed reset verifies the address).

The outbox's old emails are the mailer's own business (beat task ``mailer.retention``).

The boundaries match the token checks: a token dies at exactly created_at + TTL
(``OneTimeToken.is_expired``), and from that moment the cleanup may delete it.

Rows go in batches of ids (BATCH_SIZE), each batch its own short transaction, so
sign-ups and verifications are never blocked behind the cleanup. Batches are picked
with ``SELECT ... FOR UPDATE SKIP LOCKED``: two runs at once (the beat task and an
operator's command) take disjoint batches, and their counts add up to the rows
that existed. Running it again deletes nothing new.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from common.batches import BATCH_SIZE, Progress, delete_in_batches

from .models import EmailChange, EmailVerification, PasswordResetToken, User

# The kinds, in the order they are deleted and reported.
KINDS = ("verification_tokens", "reset_tokens", "unverified_users", "email_changes")


def unverified_user_days() -> int:
    """Days after which a never-verified account is deleted (0: never)."""
    return settings.ACCOUNTS_UNVERIFIED_USER_DAYS


def expired_verifications(now: datetime):
    """Verification tokens past their TTL, verified or not."""
    return EmailVerification.objects.filter(created_at__lte=now - EmailVerification.ttl())


def dead_reset_tokens(now: datetime):
    """Reset tokens that were used or are past their TTL."""
    expired = Q(created_at__lte=now - PasswordResetToken.ttl())
    return PasswordResetToken.objects.filter(Q(used_at__isnull=False) | expired)


def dead_email_changes(now: datetime):
    """Address-change links that were used or are past their TTL."""
    expired = Q(created_at__lte=now - EmailChange.ttl())
    return EmailChange.objects.filter(Q(used_at__isnull=False) | expired)


def stale_unverified_users(now: datetime):
    """Never-verified, inactive, non-staff accounts older than the limit (none if it is 0)."""
    days = unverified_user_days()
    if days <= 0:
        return User.objects.none()
    live_reset = PasswordResetToken.objects.filter(
        user=OuterRef("pk"), used_at__isnull=True, created_at__gt=now - PasswordResetToken.ttl()
    )
    return User.objects.filter(
        email_verified_at__isnull=True,
        is_active=False,
        is_staff=False,
        is_superuser=False,
        date_joined__lt=now - timedelta(days=days),
    ).exclude(Exists(live_reset))


def cleanup(
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Run the nightly cleanup; return the number of rows deleted per kind (see KINDS).

    With ``dry_run`` nothing is deleted and the counts are what would go. ``now``
    fixes the clock (tests); ``progress`` is called as ``progress(kind, done,
    total)`` while deleting (it costs one COUNT per kind). Idempotent and safe to
    run concurrently with itself.
    """
    now = now or timezone.now()
    querysets = {
        "verification_tokens": expired_verifications(now),
        "reset_tokens": dead_reset_tokens(now),
        "unverified_users": stale_unverified_users(now),
        "email_changes": dead_email_changes(now),
    }
    if dry_run:
        counts = {kind: qs.count() for kind, qs in querysets.items()}
    else:
        counts = {
            kind: delete_in_batches(qs, kind=kind, batch_size=batch_size, progress=progress)
            for kind, qs in querysets.items()
        }
    return counts
