"""Admin, mail dashboard, email previews and metrics are staff-only."""

import secrets

from django.test import Client
from django.urls import reverse

from accounts.models import User
from mailer.rendering import samples
from tests.support.pages import admin_pages


def staff_only_pages() -> list[str]:
    first = samples.kinds()[0]
    return [
        *admin_pages(),
        reverse("mailer:preview-html", args=[first, "en"]),
        "/admin/mailer/email/1/change/",
        "/admin/auth/group/",
    ]


def test_staff_pages_refuse_anonymous_visitors(rows):
    for path in staff_only_pages():
        response = Client().get(path, follow=True)
        assert response.redirect_chain, path
        assert response.redirect_chain[-1][0].startswith("/auth/login/?next="), (path, response.redirect_chain)


def test_staff_pages_refuse_users_who_are_not_staff(rows):
    client = Client()
    client.force_login(User.objects.get(username="ram"))
    for path in staff_only_pages():
        response = client.get(path, follow=True)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert b"ram@example.com" not in response.content


def test_metrics_need_staff_or_the_token(rows, settings):
    settings.MAILER_METRICS_TOKEN = "metrics-" + secrets.token_urlsafe(16)
    assert Client().get("/mailer/metrics/").status_code == 401
    user = Client()
    user.force_login(User.objects.get(username="ram"))
    assert user.get("/mailer/metrics/").status_code == 403
    assert Client().get("/mailer/metrics/", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
