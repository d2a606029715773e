from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from .models import Email, EmailEvent, Suppression
from .ops import history
from .outbox import resend
from .rendering.previews import EMAIL_CSP


@admin.register(Email)
class EmailAdmin(admin.ModelAdmin):
    """The email log: read-only rows, each with its history and its rendered preview.

    Nobody edits a row here: saving the admin form would write every column back
    with the values read when the page was loaded, and could put a row the worker
    has since sent back to ``queued`` (sent twice). "Send again" queues a new row
    instead (mailer.outbox.resend); it needs the change permission.
    """

    list_display = (
        "id",
        "template",
        "to",
        "language",
        "priority",
        "status",
        "delivery_status",
        "attempts",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "delivery_status", "priority", "template", "language")
    search_fields = ("to", "message_id")
    date_hierarchy = "created_at"
    actions = ("send_again",)
    # secret_context is ciphertext and context may hold personal data: show neither raw
    # (the preview shows the context rendered, one-time links replaced).
    exclude = ("secret_context", "context")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "template",
                    "to",
                    "language",
                    "priority",
                    "status",
                    "delivery_status",
                    "attempts",
                    "claimed_by",
                    "message_id",
                    "last_error",
                )
            },
        ),
        (
            "Timestamps",
            {
                "fields": (
                    "created_at",
                    "next_attempt_at",
                    "lease_expires_at",
                    "expires_at",
                    "sent_at",
                    "updated_at",
                )
            },
        ),
    )
    readonly_fields = (
        "template",
        "to",
        "language",
        "priority",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_by",
        "lease_expires_at",
        "expires_at",
        "message_id",
        "delivery_status",
        "last_error",
        "created_at",
        "updated_at",
        "sent_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request):
        """Who may "send again": staff with the change permission (the form itself stays read-only)."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "<path:object_id>/preview-html/",
                self.admin_site.admin_view(self.preview_html_view),
                name="{}_{}_preview_html".format(*info),
            ),
            path(
                "<path:object_id>/send-again/",
                self.admin_site.admin_view(self.send_again_view),
                name="{}_{}_send_again".format(*info),
            ),
        ]
        # Before the model's own URLs, whose "<path:object_id>/" catch-all would answer first.
        return own + super().get_urls()

    def _viewable(self, request, object_id) -> Email:
        email = self.get_object(request, unquote(object_id))
        if email is None:
            raise Http404("No such email.")
        if not self.has_view_permission(request, email):
            raise PermissionDenied
        return email

    def change_view(self, request, object_id, form_url="", extra_context=None):
        email = self.get_object(request, unquote(object_id))
        if email is not None and self.has_view_permission(request, email):
            extra_context = {
                **(extra_context or {}),
                "history": history.history(email),
                "preview": history.preview(email),
                "placeholder": history.PLACEHOLDER,
                "send_again": self._send_again_state(request, email),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _send_again_state(self, request, email: Email) -> dict | None:
        """For the change page: None (no button), or whether it may be sent again and why not."""
        reason = resend.refusal(email)
        if not self.has_resend_permission(request) or reason == resend.NOT_RESENDABLE:
            return None
        return {"allowed": reason is None, "reason": reason or ""}

    @method_decorator(xframe_options_sameorigin)
    def preview_html_view(self, request, object_id):
        """The row's HTML part alone, for the change page's sandboxed iframe, under EMAIL_CSP."""
        rendered = history.preview(self._viewable(request, object_id)).email
        if rendered is None:
            raise Http404("This email cannot be rendered.")
        response = HttpResponse(rendered.html, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = EMAIL_CSP
        return response

    @admin.action(description="Send again (failed or bounced emails)", permissions=["resend"])
    def send_again(self, request, queryset):
        self._report(request, resend.email_resend(email_ids=queryset.values_list("pk", flat=True)))

    @method_decorator(require_POST)
    def send_again_view(self, request, object_id):
        """POST from the change page's button: send this one row again, then back to its page."""
        if not self.has_resend_permission(request):
            raise PermissionDenied
        email = self._viewable(request, object_id)
        self._report(request, resend.email_resend(email_ids=[email.pk]))
        return HttpResponseRedirect(reverse("admin:mailer_email_change", args=[email.pk]))

    @staticmethod
    def _email_link(pk: int) -> tuple:
        return reverse("admin:mailer_email_change", args=[pk]), f"#{pk}"

    def _report(self, request, result: resend.ResendResult) -> None:
        if result.queued:
            new_ids = result.queued.values()
            links = format_html_join(", ", '<a href="{}">{}</a>', (self._email_link(pk) for pk in new_ids))
            self.message_user(
                request, format_html("Queued {} new email(s): {}.", len(result.queued), links), messages.SUCCESS
            )
        by_reason: dict[str, list[int]] = {}
        for pk, reason in result.refused.items():
            by_reason.setdefault(reason, []).append(pk)
        for reason, pks in by_reason.items():
            ids = ", ".join(f"#{pk}" for pk in pks)
            self.message_user(request, f"Not sent again: {ids}: {reason}.", messages.WARNING)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "reason", "created_at")
    list_filter = ("reason",)
    search_fields = ("address",)


@admin.register(EmailEvent)
class EmailEventAdmin(admin.ModelAdmin):
    """What SES reported (via SNS), read-only: the record of why an address was suppressed."""

    list_display = ("id", "type", "subtype", "recipient", "email", "message_id", "created_at")
    list_filter = ("type", "subtype")
    search_fields = ("recipient", "message_id", "sns_message_id")
    date_hierarchy = "created_at"
    list_select_related = ("email",)
    raw_id_fields = ("email",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
