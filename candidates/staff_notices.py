"""Telling the reviewers about submissions: at once when it is quiet, in a digest when many arrive.

Every submission used to email every staff user, so a burst of submissions (or
one user resubmitting) multiplied into staff email without bound. Now at most
one email per reviewer goes out per window of CANDIDATES_STAFF_DIGEST_SECONDS:

- the first submission in a window is announced at once (``admin_notification``),
  as before: in a quiet hour reviewers hear without delay;
- later submissions in the window wait (``Submission.staff_notified_at`` empty);
- beat runs ``candidates.staff_digest`` every minute: once the window is over, the
  waiting submissions go out as one ``staff_digest`` per reviewer (or, if only
  one waits, its ``admin_notification``), which opens the next window. A
  submission that finds the window over takes whatever waits along with it.

The window is read from the database (the last ``staff_notified_at``), in the
transaction of the submission or the digest and under one PostgreSQL advisory
lock, so two submissions at the same moment cannot both be "first", and a
submission rolled back leaves no trace: neither an email nor a used-up window.

A window of 0 turns the digest off: every submission is announced at once.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from mailer import api as mail

from .cards import candidate_card
from .models import Candidate, Submission

TEMPLATE_ADMIN_NOTIFICATION = "candidates/email/admin_notification"
TEMPLATE_STAFF_DIGEST = "candidates/email/staff_digest"
# pg_advisory_xact_lock's key: a fixed 63-bit number of our own.
_LOCK_KEY = int.from_bytes(hashlib.sha256(b"candidates.staff_notices").digest()[:8], "big") >> 1


def window_take() -> bool:
    """True if no reviewer was emailed in the last CANDIDATES_STAFF_DIGEST_SECONDS (the caller emails them now).

    Must run in the transaction that records the email (``staff_notified_at``):
    it holds a lock until that transaction ends, so the next caller sees its outcome.
    """
    seconds = settings.CANDIDATES_STAFF_DIGEST_SECONDS
    if seconds <= 0:
        return True
    if connection.vendor == "postgresql":
        # SQLite (development) lets one writer in at a time anyway.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    since = timezone.now() - timedelta(seconds=seconds)
    return not Submission.objects.filter(staff_emailed=True, staff_notified_at__gt=since).exists()


def reviewers():
    """Who hears of submissions: every active staff user with an address."""
    return get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="").order_by("pk")


def _entry(submission: Submission, language: str) -> dict:
    candidate = submission.candidate
    return {
        **candidate_card(candidate, language),
        "admin_url": mail.site_url("admin:candidates_candidate_change", candidate.pk),
        "resubmitted": submission.resubmission,
    }


def staff_notify(*, submission: Submission) -> bool:
    """Tell the reviewers of ``submission`` now if the window allows; else leave it for the digest.

    Call inside the submission's transaction (the emails and the window are recorded
    in it), after saving ``submission``. Whatever else waits goes in the same email
    (then a digest), so nothing depends on beat alone. Returns True if emailed.
    """
    if not window_take():
        return False
    return _announce(_waiting()) > 0


def staff_digest_send() -> int:
    """Send the waiting submissions to every reviewer in one email, once the window allows.

    Returns how many profiles it listed (0: nothing waited, the window is still
    open, or every waiting profile has left review). Profiles that are no longer
    pending (edited back to draft, or decided) are dropped; a profile submitted
    twice is listed once. Safe to run twice at once (the window's lock).
    """
    if not Submission.objects.filter(staff_notified_at__isnull=True).exists():
        return 0
    with transaction.atomic():
        if not window_take():
            return 0
        return _announce(_waiting())


def _waiting() -> list[Submission]:
    return list(
        Submission.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("candidate")
        .filter(staff_notified_at__isnull=True)
        .order_by("submitted_at", "pk")
    )


def _announce(waiting: list[Submission]) -> int:
    """Email every reviewer about the ``waiting`` submissions still pending: one notice, or a digest of several.

    Marks every one of them as dealt with; only those listed count as emailed (the window).
    """
    latest = {s.candidate_id: s for s in waiting}  # the last submission of each profile
    listed = [s for s in latest.values() if s.candidate.status == Candidate.Status.PENDING]
    now = timezone.now()
    Submission.objects.filter(pk__in=[s.pk for s in waiting]).update(staff_notified_at=now)
    Submission.objects.filter(pk__in=[s.pk for s in listed]).update(staff_emailed=True)
    if not listed:
        return 0
    pending_url = mail.site_url("admin:candidates_candidate_changelist") + "?status__exact=pending"
    for staff in reviewers():
        language = staff.preferred_language
        if len(listed) == 1:
            template, context = TEMPLATE_ADMIN_NOTIFICATION, _entry(listed[0], language)
        else:
            template = TEMPLATE_STAFF_DIGEST
            context = {
                "count": len(listed),
                "submissions": [_entry(s, language) for s in listed],
                "pending_url": pending_url,
            }
        mail.enqueue(template=template, to=staff.email, language=language, context=context)
    return len(listed)
