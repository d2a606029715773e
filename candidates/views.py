"""Candidate pages: the registration wizard, the dashboard and the public profile. Thin views."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from common.ratelimits import limit

from . import photos, services
from .forms import STEPS, ReviewForm
from .models import Candidate
from .uploads import body_size_limited


def verified_required(view):
    """Logged in (else to the login page) with a verified email address (else 403 with a way out)."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.email_verified:
            return render(request, "candidates/verify_first.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _step_url(step: int) -> str:
    return reverse("candidates:register-step", args=[step])


@require_GET
@verified_required
def register(request):
    """Resume where the candidate left off: the first step not saved yet."""
    candidate = services.candidate_for(user=request.user)
    return redirect(_step_url(min(candidate.step + 1, 4)))


@body_size_limited("CANDIDATES_UPLOAD_MAX_BYTES")
@require_http_methods(["GET", "POST"])
@verified_required
def register_step(request, step: int):
    """Wizard step ``step``: show its form, save it and go on; no skipping ahead of the first unsaved step."""
    candidate = services.candidate_for(user=request.user)
    if step not in STEPS:
        return redirect("candidates:register")
    if step > candidate.step + 1:
        # No skipping ahead: every step is validated and saved in order.
        return redirect(_step_url(candidate.step + 1))
    title, form_class = STEPS[step]
    if form_class is ReviewForm:
        return _review(request, candidate, title)
    data = request.POST if request.method == "POST" else None
    form = form_class(data, request.FILES or None, instance=candidate)
    if data is not None and form.is_valid():
        services.candidate_save_step(candidate=candidate, step=step, data=form.cleaned_data)
        return redirect(_step_url(step + 1))
    return render(
        request,
        "candidates/step.html",
        {"form": form, "step": step, "title": title, "steps": STEPS, "candidate": candidate},
    )


# Submitting emails the candidate and the reviewers: limited per user and per IP
# (429), on top of the per-profile limit of submissions a day (services).
@ratelimit(
    group="candidate-submit", key="user", rate=limit("RATELIMIT_CANDIDATE_SUBMIT_USER"), method="POST", block=True
)
@ratelimit(
    group="candidate-submit-ip", key="ip", rate=limit("RATELIMIT_CANDIDATE_SUBMIT_IP"), method="POST", block=True
)
def _review(request, candidate: Candidate, title: str):
    form = ReviewForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            submitted = services.candidate_submit(candidate_id=candidate.pk)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if submitted:
                messages.success(
                    request, _("Your profile was submitted for review. We have emailed you a confirmation.")
                )
            else:
                messages.info(request, _("Your profile had already been submitted."))
            return redirect("candidates:dashboard")
    incomplete = services.incomplete_steps(candidate)
    return render(
        request,
        "candidates/review.html",
        {"form": form, "step": 4, "title": title, "steps": STEPS, "candidate": candidate, "incomplete": incomplete},
    )


@require_GET
@verified_required
def dashboard(request):
    """The candidate's own profile: its status and, after a rejection, the reviewers' notes."""
    candidate = Candidate.objects.filter(user=request.user).first()
    return render(request, "candidates/dashboard.html", {"candidate": candidate})


@require_GET
def profile(request, pk: int):
    """Public: approved profiles only; any other (or none) is a 404, not a hint that it exists."""
    candidate = get_object_or_404(Candidate, pk=pk, status=Candidate.Status.APPROVED)
    return render(request, "candidates/profile.html", {"candidate": candidate})


@require_GET
def photo(request, pk: int):
    """A profile's photo, always ``image/jpeg`` (photos are stored re-encoded, candidates.photos).

    The public sees the photos of approved profiles; the candidate and staff who may
    view profiles see any. Anything else is a 404, as for the profile page.
    """
    candidate = get_object_or_404(Candidate, pk=pk)
    allowed = (
        candidate.status == Candidate.Status.APPROVED
        or candidate.user_id == request.user.pk
        or (request.user.is_staff and request.user.has_perm("candidates.view_candidate"))
    )
    if not allowed or not candidate.photo:
        raise Http404
    try:
        stored = candidate.photo.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(stored, content_type=photos.PHOTO_CONTENT_TYPE)
    response["Content-Disposition"] = f'inline; filename="candidate-{candidate.pk}{photos.PHOTO_EXTENSION}"'
    response["X-Content-Type-Options"] = "nosniff"
    # A profile leaves the public page when it is edited: no shared cache keeps its photo.
    response["Cache-Control"] = "private, max-age=300"
    return response
