"""Candidates in the admin: review lists, and approve / reject actions that call the services.

Approving and rejecting need the ``candidates.review_candidate`` permission (the
"Candidate reviewers" group has it): viewing or editing profiles does not. The
actions declare it, so Django neither lists nor runs them for anyone without it,
and the rejection page (its own URL, where the action sends the reviewer to write
the notes) checks it again on every GET and POST.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import services
from .models import Candidate, Submission

REVIEW = "review"


class RejectForm(forms.Form):
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        max_length=5000,
        strip=True,
        help_text=gettext_lazy(
            "Sent to the candidate with the rejection, and shown on their dashboard: say what to fix."
        ),
    )


class SubmissionInline(admin.TabularInline):
    """Each submission of the profile (what the daily limit counts) and when the reviewers were told."""

    model = Submission
    fields = readonly_fields = ["submitted_at", "resubmission", "staff_notified_at", "staff_emailed"]
    extra = 0
    can_delete = False
    ordering = ["-submitted_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = [
        "full_name_en",
        "full_name_ne",
        "level",
        "province_display",
        "district_name",
        "party_name",
        "status",
        "submitted_at",
        "reviewed_by",
    ]
    list_filter = ["status", "level", "province"]
    search_fields = ["full_name_en", "full_name_ne", "user__email", "user__username", "phone", "municipality"]
    date_hierarchy = "submitted_at"
    list_select_related = ["reviewed_by"]
    actions = ["approve_selected", "reject_selected"]
    inlines = [SubmissionInline]
    readonly_fields = [
        "user",
        "status",
        "step",
        "declared_at",
        "submitted_at",
        "reviewed_at",
        "reviewed_by",
        "admin_notes",
        "created_at",
        "updated_at",
        "photo_preview",
    ]
    fieldsets = [
        ("Review", {"fields": ["status", "submitted_at", "reviewed_at", "reviewed_by", "admin_notes"]}),
        (
            "Personal details",
            {"fields": ["user", "full_name_en", "full_name_ne", "date_of_birth", "phone", "photo_preview"]},
        ),
        ("Position", {"fields": ["level", "province", "district", "constituency", "municipality", "ward"]}),
        (
            "Party and biography",
            {
                "fields": [
                    "party",
                    "biography_en",
                    "biography_ne",
                    "manifesto_en",
                    "manifesto_ne",
                    "education",
                    "experience",
                ]
            },
        ),
        ("Record", {"fields": ["step", "declared_at", "created_at", "updated_at"]}),
    ]

    @admin.display(description="province", ordering="province")
    def province_display(self, candidate):
        return candidate.province_name

    @admin.display(description="photo")
    def photo_preview(self, candidate):
        # Shown, not editable here: a photo is stored only as the wizard re-encodes it (candidates.photos).
        if not candidate.photo:
            return "-"
        return format_html('<img src="{}" alt="" width="160">', reverse("candidates:photo", args=[candidate.pk]))

    def has_review_permission(self, request) -> bool:
        """May this user approve and reject profiles (``candidates.review_candidate``)?"""
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename(REVIEW, self.opts)}")

    def get_urls(self):
        reject = path(
            "reject/",
            self.admin_site.admin_view(self.reject_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_reject",
        )
        # Before the model's own URLs, whose "<path:object_id>/" would take "reject/".
        return [reject, *super().get_urls()]

    @admin.action(
        permissions=[REVIEW],
        description=gettext_lazy("Approve the selected pending profiles (emails each candidate)"),
    )
    def approve_selected(self, request, queryset):
        approved = services.candidate_approve(
            candidate_ids=queryset.values_list("pk", flat=True), reviewer=request.user
        )
        self._report(request, queryset, len(approved), "approved")

    @admin.action(
        permissions=[REVIEW],
        description=gettext_lazy("Reject the selected pending profiles, with notes (emails each candidate)"),
    )
    def reject_selected(self, request, queryset):
        # The notes are written on the rejection page; nothing is decided until they are.
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_reject")
        return HttpResponseRedirect(f"{url}?{urlencode({'ids': ids})}")

    def reject_view(self, request):
        """``reject/?ids=1,2``: the notes form for those profiles; POST rejects them. 403 without the permission."""
        if not self.has_review_permission(request):
            raise PermissionDenied
        ids = _parse_ids(request.POST.get("ids") if request.method == "POST" else request.GET.get("ids"))
        queryset = Candidate.objects.filter(pk__in=ids).order_by("pk")
        form = RejectForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid() and ids:
            rejected = services.candidate_reject(
                candidate_ids=ids,
                reviewer=request.user,
                notes=form.cleaned_data["notes"],
            )
            self._report(request, queryset, len(rejected), "rejected")
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        return TemplateResponse(
            request,
            "admin/candidates/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Reject candidate profiles"),
                "form": form,
                "candidates": queryset,
                "ids": ",".join(str(pk) for pk in ids),
                "opts": self.opts,
            },
        )

    def _report(self, request, queryset, done: int, verb: str) -> None:
        skipped = queryset.count() - done
        self.message_user(request, f"{done} profile(s) {verb}; the candidates are being emailed.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} profile(s) skipped: only pending profiles can be {verb}.", messages.WARNING
            )


def _parse_ids(value: str | None) -> list[int]:
    """``"3,5"`` → ``[3, 5]``; anything that is not a list of ids names no profile."""
    try:
        return sorted({int(part) for part in (value or "").split(",") if part.strip()})
    except ValueError:
        return []
