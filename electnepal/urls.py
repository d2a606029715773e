from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from accounts.views import admin_login
from mailer.ops.dashboard import dashboard_view

from . import healthz

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("auth/", include("accounts.urls")),
    path("candidates/", include("candidates.urls")),
    path("mailer/", include("mailer.urls")),
    # Before admin.site.urls, whose catch-all would answer first; admin_view makes it staff-only.
    path("admin/mailer/dashboard/", admin.site.admin_view(dashboard_view), name="mailer-dashboard"),
    # Staff log in through /auth/login/ and its failed-login limits, not the admin's own form.
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("healthz/", healthz.healthz, name="healthz"),
]
# MEDIA_ROOT (candidate photos) is not served as such: candidates:photo serves a
# photo, re-encoded and as image/jpeg, to those who may see it.
