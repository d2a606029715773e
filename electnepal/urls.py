from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from accounts.views import admin_login, set_language
from mailer.ops.dashboard import dashboard_view

from . import healthz

# The error pages: the site's layout in the reader's language (electnepal/views.py).
handler403 = "electnepal.views.permission_denied"
handler404 = "electnepal.views.page_not_found"
handler500 = "electnepal.views.server_error"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("auth/two-factor/", include("accounts.mfa.urls")),
    path("auth/", include("accounts.urls")),
    path("candidates/", include("candidates.urls")),
    path("mailer/", include("mailer.urls")),
    # Before admin.site.urls, whose catch-all would answer first; admin_view makes it staff-only.
    path("admin/mailer/dashboard/", admin.site.admin_view(dashboard_view), name="mailer-dashboard"),
    # Staff log in through /auth/login/ and its failed-login limits, not the admin's own form.
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    # Answered by electnepal.healthz.HealthCheckMiddleware before Host checks; named here for reverse().
    path("healthz/", healthz.healthz, name="healthz"),
    # Django's set_language, which also saves a logged-in user's choice (accounts.views).
    path("i18n/setlang/", set_language, name="set_language"),
]
# MEDIA_ROOT (candidate photos) is not served as such: candidates:photo serves a
# photo, re-encoded and as image/jpeg, to those who may see it.
