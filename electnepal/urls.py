from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from . import healthz

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("auth/", include("accounts.urls")),
    path("candidates/", include("candidates.urls")),
    path("mailer/", include("mailer.urls")),
    path("admin/", admin.site.urls),
    path("healthz/", healthz.healthz, name="healthz"),
]
