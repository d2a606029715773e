"""Candidate services: saving a wizard step, submitting, and the admins' decisions.

Every decision that causes an email writes the outbox rows in the same
transaction as the change (mailer.api.enqueue): a rollback sends nothing, and a
repeated submission or decision changes nothing and sends nothing, because each
one takes the row lock and acts only from the status it expects.
"""

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.devanagari import digits
from mailer import api as mail

from .forms import STEPS
from .models import Candidate

Status = Candidate.Status

TEMPLATE_CONFIRMATION = "candidates/email/registration_confirmation"
TEMPLATE_ADMIN_NOTIFICATION = "candidates/email/admin_notification"
TEMPLATE_APPROVAL = "candidates/email/approval"
TEMPLATE_REJECTION = "candidates/email/rejection"


def candidate_for(*, user) -> Candidate:
    """The user's profile, created empty (a draft at step 0) on first use."""
    candidate, _created = Candidate.objects.get_or_create(user=user)
    return candidate


def candidate_save_step(*, candidate: Candidate, step: int, data: dict) -> Candidate:
    """Save wizard step ``step`` of ``candidate``: ``data`` maps its fields to validated values.

    The values are a step form's ``cleaned_data``: each is stored as a ModelForm
    would store it (a photo of None keeps the saved one, False clears it). The
    profile goes (back) to draft until it is submitted again. Raises
    FieldDoesNotExist for a name that is not a field of the profile.
    """
    for name, value in data.items():
        Candidate._meta.get_field(name).save_form_data(candidate, value)
    if candidate.status != Status.DRAFT:
        # What the public and the reviewers see must have been reviewed: an edit
        # of a submitted profile withdraws it until it is submitted again.
        candidate.status = Status.DRAFT
    candidate.step = max(candidate.step, step)
    candidate.save()
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


def _card(candidate: Candidate, language: str) -> dict:
    """What the emails say about a profile, named in the recipient's language: JSON-safe, no secrets."""
    return {
        "full_name_en": candidate.full_name_en,
        "full_name_ne": candidate.full_name_ne,
        **candidate.names(language),
        "submitted_on": timezone.localdate(candidate.submitted_at).isoformat() if candidate.submitted_at else "",
        "dashboard_url": mail.site_url("candidates:dashboard"),
    }


def candidate_submit(*, candidate_id: int) -> bool:
    """Send a complete draft to review: pending, confirmation to the candidate, one email per staff user.

    Returns False, and changes nothing, if the profile is not a draft any more
    (submitted twice, or in two tabs). Raises ValidationError naming the steps
    that are incomplete or no longer valid.
    """
    with transaction.atomic():
        candidate = Candidate.objects.select_for_update().select_related("user").get(pk=candidate_id)
        if candidate.status != Status.DRAFT:
            return False
        missing = incomplete_steps(candidate)
        if missing:
            steps = ", ".join(digits(n) for n in missing)
            raise ValidationError(_("Please complete step %(steps)s before submitting.") % {"steps": steps})
        now = timezone.now()
        candidate.status = Status.PENDING
        candidate.step = 4
        candidate.declared_at = now
        candidate.submitted_at = now
        candidate.save(update_fields=["status", "step", "declared_at", "submitted_at", "updated_at"])
        user = candidate.user
        mail.enqueue(
            template=TEMPLATE_CONFIRMATION, to=user.email, language=user.preferred_language,
            context=_card(candidate, user.preferred_language),
        )
        admin_url = mail.site_url("admin:candidates_candidate_change", candidate.pk)
        for staff in get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email=""):
            mail.enqueue(
                template=TEMPLATE_ADMIN_NOTIFICATION, to=staff.email, language=staff.preferred_language,
                context={
                    **_card(candidate, staff.preferred_language),
                    "admin_url": admin_url,
                    "resubmitted": candidate.reviewed_at is not None,
                },
            )
        return True


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
                template=template, to=candidate.user.email, language=candidate.user.preferred_language,
                context={
                    **_card(candidate, candidate.user.preferred_language),
                    "notes": notes,
                    "profile_url": mail.site_url("candidates:profile", candidate.pk),
                },
            )
            decided.append(candidate)
    return decided


def candidate_approve(*, candidate_ids: Iterable[int], reviewer, notes: str = "") -> list[Candidate]:
    """Approve the pending profiles among ``candidate_ids``; queue each approval email. Returns those approved."""
    return _decide(
        candidate_ids=candidate_ids, reviewer=reviewer, status=Status.APPROVED, notes=notes.strip(),
        template=TEMPLATE_APPROVAL,
    )


def candidate_reject(*, candidate_ids: Iterable[int], reviewer, notes: str) -> list[Candidate]:
    """Reject the pending profiles among ``candidate_ids`` with ``notes`` (required), sent to each candidate."""
    notes = notes.strip()
    if not notes:
        raise ValidationError("A rejection needs notes: the candidate reads them to fix the profile.")
    return _decide(
        candidate_ids=candidate_ids, reviewer=reviewer, status=Status.REJECTED, notes=notes,
        template=TEMPLATE_REJECTION,
    )


__all__ = [
    "candidate_approve",
    "candidate_for",
    "candidate_reject",
    "candidate_save_step",
    "candidate_submit",
    "incomplete_steps",
]
