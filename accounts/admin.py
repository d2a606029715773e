from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import EmailChange, EmailVerification, PasswordResetToken, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_active", "email_verified_at", "is_staff")
    list_filter = ("is_active", "is_staff", "preferred_language")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Email", {"fields": ("preferred_language", "email_verified_at")}),
    )


class TokenAdmin(admin.ModelAdmin):
    # Only hashes are stored; nothing here can be turned back into a link.
    list_display = ("user", "created_at")
    readonly_fields = ("user", "token_hash", "created_at")
    search_fields = ("user__username", "user__email")

    def has_add_permission(self, request):
        return False


@admin.register(EmailVerification)
class EmailVerificationAdmin(TokenAdmin):
    list_display = ("user", "created_at", "verified_at")


@admin.register(PasswordResetToken)
class PasswordResetTokenAdmin(TokenAdmin):
    list_display = ("user", "created_at", "used_at")


@admin.register(EmailChange)
class EmailChangeAdmin(TokenAdmin):
    list_display = ("user", "new_email", "created_at", "used_at")
    readonly_fields = ("user", "new_email", "token_hash", "created_at", "used_at")
