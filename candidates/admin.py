"""Candidates in the admin: review lists, and approve / reject actions that call the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.html import format_html

from . import services
from .models import Candidate


class RejectForm(forms.Form):
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        max_length=5000,
        strip=True,
        help_text="Sent to the candidate with the rejection, and shown on their dashboard: say what to fix.",
    )


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ["full_name_en", "full_name_ne", "level", "province_display", "district_name", "party_name",
                     "status", "submitted_at", "reviewed_by"]
    list_filter = ["status", "level", "province"]
    search_fields = ["full_name_en", "full_name_ne", "user__email", "user__username", "phone", "municipality"]
    date_hierarchy = "submitted_at"
    list_select_related = ["reviewed_by"]
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = ["user", "status", "step", "declared_at", "submitted_at", "reviewed_at", "reviewed_by",
                       "admin_notes", "created_at", "updated_at", "photo_preview"]
    fieldsets = [
        ("Review", {"fields": ["status", "submitted_at", "reviewed_at", "reviewed_by", "admin_notes"]}),
        ("Personal details", {"fields": ["user", "full_name_en", "full_name_ne", "date_of_birth", "phone",
                                         "photo", "photo_preview"]}),
        ("Position", {"fields": ["level", "province", "district", "constituency", "municipality", "ward"]}),
        ("Party and biography", {"fields": ["party", "biography_en", "biography_ne", "manifesto_en",
                                            "manifesto_ne", "education", "experience"]}),
        ("Record", {"fields": ["step", "declared_at", "created_at", "updated_at"]}),
    ]

    @admin.display(description="province", ordering="province")
    def province_display(self, candidate):
        return candidate.province_name

    @admin.display(description="photo")
    def photo_preview(self, candidate):
        return format_html('<img src="{}" alt="" width="160">', candidate.photo.url) if candidate.photo else "-"

    @admin.action(description="Approve the selected pending profiles (emails each candidate)")
    def approve_selected(self, request, queryset):
        approved = services.candidate_approve(candidate_ids=queryset.values_list("pk", flat=True), reviewer=request.user)
        self._report(request, queryset, len(approved), "approved")

    @admin.action(description="Reject the selected pending profiles, with notes (emails each candidate)")
    def reject_selected(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            rejected = services.candidate_reject(
                candidate_ids=queryset.values_list("pk", flat=True), reviewer=request.user,
                notes=form.cleaned_data["notes"],
            )
            self._report(request, queryset, len(rejected), "rejected")
            return None
        # The intermediate page: the notes are required before anything happens.
        return TemplateResponse(request, "admin/candidates/reject.html", {
            **self.admin_site.each_context(request),
            "title": "Reject candidate profiles",
            "form": form,
            "candidates": queryset,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })

    def _report(self, request, queryset, done: int, verb: str) -> None:
        skipped = queryset.count() - done
        self.message_user(request, f"{done} profile(s) {verb}; the candidates are being emailed.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} profile(s) skipped: only pending profiles can be {verb}.",
                              messages.WARNING)
