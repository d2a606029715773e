"""Candidate services: saving a wizard step, submitting, and the admins' decisions.

Every decision that causes an email writes the outbox rows in the same
transaction as the change (mailer.api.enqueue): a rollback sends nothing, and a
repeated submission or decision changes nothing and sends nothing, because each
one takes the row lock and acts only from the status it expects.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from common.devanagari import digits
from mailer import api as mail

from . import staff_notices
from .cards import candidate_card
from .forms import STEPS
from .models import Candidate, Submission

Status = Candidate.Status

TEMPLATE_CONFIRMATION = "candidates/email/registration_confirmation"
TEMPLATE_ADMIN_NOTIFICATION = staff_notices.TEMPLATE_ADMIN_NOTIFICATION
TEMPLATE_STAFF_DIGEST = staff_notices.TEMPLATE_STAFF_DIGEST
TEMPLATE_APPROVAL = "candidates/email/approval"
TEMPLATE_REJECTION = "candidates/email/rejection"
# The window the per-profile submission limit counts in.
SUBMISSION_WINDOW = timedelta(hours=24)


class SubmissionLimitReached(ValidationError):
    """The profile was submitted CANDIDATES_SUBMISSIONS_PER_DAY times in the last 24 h already."""


def candidate_for(*, user) -> Candidate:
    """The user's profile, created empty (a draft at step 0) on first use."""
    candidate, _created = Candidate.objects.get_or_create(user=user)
    return candidate


def candidate_save_step(*, candidate: Candidate, step: int, data: dict) -> Candidate:
    """Save wizard step ``step`` of ``candidate``: ``data`` maps its fields to validated values.

    The values are a step form's ``cleaned_data``: each is stored as a ModelForm
    would store it (a photo of None keeps the saved one, False clears it; the file
    of a replaced or cleared photo is deleted on commit). The
    profile goes (back) to draft until it is submitted again. Raises
    FieldDoesNotExist for a name that is not a field of the profile.
    """
    # From the row: a ModelForm's validation has set the new photo on ``candidate`` already.
    old_photo = Candidate.objects.filter(pk=candidate.pk).values_list("photo", flat=True).first()
    for name, value in data.items():
        Candidate._meta.get_field(name).save_form_data(candidate, value)
    if candidate.status != Status.DRAFT:
        # What the public and the reviewers see must have been reviewed: an edit
        # of a submitted profile withdraws it until it is submitted again.
        candidate.status = Status.DRAFT
    candidate.step = max(candidate.step, step)
    candidate.save()
    if old_photo and candidate.photo.name != old_photo:
        # A replaced or removed photo leaves no file behind (an upload from before
        # re-encoding may still hold its EXIF); once the new name is committed.
        storage = candidate.photo.storage
        transaction.on_commit(lambda: storage.delete(old_photo))
    return candidate


def incomplete_steps(candidate: Candidate) -> list[int]:
    """The steps 1-3 whose saved data does not pass its form (what submit would refuse)."""
    missing = []
    for number in (1, 2, 3):
        form_class = STEPS[number][1]
        data = {name: _form_value(getattr(candidate, name)) for name in form_class._meta.fields if name != "photo"}
        form = form_class(data, instance=candidate, initial={"photo": candidate.photo})
        if not form.is_valid():
            missing.append(number)
    return missing


def _form_value(value):
    return "" if value is None else value


def candidate_submit(*, candidate_id: int) -> bool:
    """Send a complete draft to review: pending, confirmation to the candidate, the reviewers told.

    Returns False, and changes nothing, if the profile is not a draft any more
    (submitted twice, or in two tabs). Raises SubmissionLimitReached (a
    ValidationError saying when it may be submitted again) once the profile was
    submitted CANDIDATES_SUBMISSIONS_PER_DAY times in 24 h: each submission emails
    the candidate and the reviewers. Raises ValidationError naming the steps that
    are incomplete or no longer valid. The reviewers hear at once or in the next
    digest (candidates.staff_notices).
    """
    with transaction.atomic():
        candidate = Candidate.objects.select_for_update().select_related("user").get(pk=candidate_id)
        if candidate.status != Status.DRAFT:
            return False
        now = timezone.now()
        _check_submission_limit(candidate, now)
        missing = incomplete_steps(candidate)
        if missing:
            steps = ", ".join(digits(n) for n in missing)
            raise ValidationError(_("Please complete step %(steps)s before submitting.") % {"steps": steps})
        candidate.status = Status.PENDING
        candidate.step = 4
        candidate.declared_at = now
        candidate.submitted_at = now
        candidate.save(update_fields=["status", "step", "declared_at", "submitted_at", "updated_at"])
        submission = Submission.objects.create(
            candidate=candidate, submitted_at=now, resubmission=candidate.reviewed_at is not None
        )
        user = candidate.user
        mail.enqueue(
            template=TEMPLATE_CONFIRMATION,
            to=user.email,
            language=user.preferred_language,
            context=candidate_card(candidate, user.preferred_language),
        )
        staff_notices.staff_notify(submission=submission)
        return True


def _check_submission_limit(candidate: Candidate, now) -> None:
    """Raise SubmissionLimitReached if ``candidate`` used up its submissions of the last 24 h.

    Called with the profile's row locked, so two submissions at once count each other.
    """
    allowed = settings.CANDIDATES_SUBMISSIONS_PER_DAY
    if allowed <= 0:
        return  # no limit
    recent = list(
        Submission.objects.filter(candidate=candidate, submitted_at__gt=now - SUBMISSION_WINDOW)
        .order_by("-submitted_at")
        .values_list("submitted_at", flat=True)[:allowed]
    )
    if len(recent) < allowed:
        return
    # Free again when the oldest of the last ``allowed`` submissions leaves the window.
    again = formats.date_format(timezone.localtime(recent[-1] + SUBMISSION_WINDOW), "DATETIME_FORMAT")
    raise SubmissionLimitReached(
        _(
            "You have submitted your profile %(count)s times in 24 hours, the most we accept. "
            "Your changes are saved; you can submit it again after %(again)s."
        )
        % {"count": allowed, "again": again},
        code="submission_limit",
    )


def candidate_staff_digest() -> int:
    """Beat: the reviewers' digest of the submissions they have not heard of (candidates.staff_notices)."""
    return staff_notices.staff_digest_send()


def _decide(*, candidate_ids: Iterable[int], reviewer, status: str, notes: str, template: str) -> list[Candidate]:
    decided = []
    with transaction.atomic():
        # Only pending profiles are decided: a second approval (another admin, a
        # double click) finds nothing to do and sends nothing.
        pending = (
            Candidate.objects.select_for_update()
            .select_related("user")
            .filter(pk__in=list(candidate_ids), status=Status.PENDING)
            .order_by("pk")
        )
        now = timezone.now()
        for candidate in pending:
            candidate.status = status
            candidate.reviewed_at = now
            candidate.reviewed_by = reviewer
            candidate.admin_notes = notes
            candidate.save(update_fields=["status", "reviewed_at", "reviewed_by", "admin_notes", "updated_at"])
            mail.enqueue(
                template=template,
                to=candidate.user.email,
                language=candidate.user.preferred_language,
                context={
                    **candidate_card(candidate, candidate.user.preferred_language),
                    "notes": notes,
                    "profile_url": mail.site_url("candidates:profile", candidate.pk),
                },
            )
            decided.append(candidate)
    return decided


def candidate_approve(*, candidate_ids: Iterable[int], reviewer, notes: str = "") -> list[Candidate]:
    """Approve the pending profiles among ``candidate_ids``; queue each approval email. Returns those approved."""
    return _decide(
        candidate_ids=candidate_ids,
        reviewer=reviewer,
        status=Status.APPROVED,
        notes=notes.strip(),
        template=TEMPLATE_APPROVAL,
    )


def candidate_reject(*, candidate_ids: Iterable[int], reviewer, notes: str) -> list[Candidate]:
    """Reject the pending profiles among ``candidate_ids`` with ``notes`` (required), sent to each candidate."""
    notes = notes.strip()
    if not notes:
        raise ValidationError("A rejection needs notes: the candidate reads them to fix the profile.")
    return _decide(
        candidate_ids=candidate_ids,
        reviewer=reviewer,
        status=Status.REJECTED,
        notes=notes,
        template=TEMPLATE_REJECTION,
    )


__all__ = [
    "SubmissionLimitReached",
    "candidate_approve",
    "candidate_for",
    "candidate_reject",
    "candidate_save_step",
    "candidate_staff_digest",
    "candidate_submit",
    "incomplete_steps",
]
