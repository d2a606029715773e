from django.contrib import admin

from .models import Email, Suppression


@admin.register(Email)
class EmailAdmin(admin.ModelAdmin):
    list_display = ("id", "template", "to", "language", "priority", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status", "priority", "template", "language")
    search_fields = ("to", "message_id")
    date_hierarchy = "created_at"
    # secret_context is ciphertext and context may hold personal data: show neither raw.
    exclude = ("secret_context", "context")
    readonly_fields = (
        "template", "to", "language", "priority", "status", "attempts", "next_attempt_at",
        "lease_expires_at", "expires_at", "message_id", "last_error", "created_at", "updated_at", "sent_at",
    )

    def has_add_permission(self, request):
        return False


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "reason", "created_at")
    list_filter = ("reason",)
    search_fields = ("address",)
