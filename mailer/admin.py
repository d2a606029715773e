from django.contrib import admin

from .models import Email, EmailEvent, Suppression


@admin.register(Email)
class EmailAdmin(admin.ModelAdmin):
    list_display = (
        "id", "template", "to", "language", "priority", "status", "delivery_status", "attempts", "created_at",
        "sent_at",
    )
    list_filter = ("status", "delivery_status", "priority", "template", "language")
    search_fields = ("to", "message_id")
    date_hierarchy = "created_at"
    # secret_context is ciphertext and context may hold personal data: show neither raw.
    exclude = ("secret_context", "context")
    readonly_fields = (
        "template", "to", "language", "priority", "status", "attempts", "next_attempt_at",
        "lease_expires_at", "expires_at", "message_id", "delivery_status", "last_error", "created_at", "updated_at",
        "sent_at",
    )

    def has_add_permission(self, request):
        return False


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
