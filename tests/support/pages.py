"""Pages a test walks through: every page of the admin there is."""

from django.contrib import admin
from django.urls import reverse

from accounts.models import User
from mailer.rendering import samples


def admin_pages() -> list[str]:
    """The admin's index, every model's list and add form, and the change form of each row there is."""
    from django.test import RequestFactory

    superuser = RequestFactory().get("/admin/")
    superuser.user = User(is_staff=True, is_superuser=True, is_active=True)
    pages = ["/admin/", "/admin/mailer/dashboard/", "/mailer/preview/"]
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission(superuser):
            pages.append(reverse("admin:{}_{}_add".format(*info)))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    first = samples.kinds()[0]
    pages.append(reverse("mailer:preview", args=[first, "en"]))
    return pages
