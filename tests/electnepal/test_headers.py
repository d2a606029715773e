"""Security headers and the Content-Security-Policy on every page we serve.

Every page carries the security headers and a Content-Security-Policy without
'unsafe-inline', and no page we serve (admin included) holds anything that policy
would block: inline script or style, style attributes, event handlers.
"""

import uuid
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import EmailVerification, PasswordResetToken, User
from accounts.tokens import token_hash
from mailer.rendering import samples
from tests.support.accounts import PASSWORD
from tests.support.mfa import staff_login
from tests.support.pages import admin_pages


class InlineContent(HTMLParser):
    """Finds what a CSP without 'unsafe-inline' blocks: inline scripts and styles without the
    nonce, style attributes, event-handler attributes, javascript: URLs."""

    def __init__(self, nonce: str | None):
        super().__init__()
        self.nonce, self.found, self._script = nonce, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name == "style":
                self.found.append(f"<{tag} style=…>")
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:…>")
        executable = tag == "script" and attrs.get("type", "text/javascript") in ("text/javascript", "module", "")
        if executable and "src" not in attrs and (self.nonce is None or attrs.get("nonce") != self.nonce):
            self.found.append(f"inline <script id={attrs.get('id')}> without the nonce")
        if tag == "style" and (self.nonce is None or attrs.get("nonce") != self.nonce):
            self.found.append("<style> element")


def csp_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in header.split(";")) if d}


def assert_safe_page(response):
    assert response.status_code in (200, 400, 403, 404, 429), response.status_code
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] in ("same-origin", "strict-origin")
    policy = csp_of(response)
    assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["style-src"] == ["'self'"]
    flat = " ".join(" ".join(v) for v in policy.values())
    assert "unsafe-inline" not in flat and "unsafe-eval" not in flat and "*" not in flat
    nonce = next((s[len("'nonce-") : -1] for s in policy["script-src"] if s.startswith("'nonce-")), None)
    parser = InlineContent(nonce)
    parser.feed(response.content.decode())
    assert parser.found == [], f"{response.wsgi_request.path}: {parser.found}"


@pytest.fixture
def staff_client(db):
    staff = User.objects.create_superuser("admin", "admin@example.com", PASSWORD, email_verified_at=timezone.now())
    client = Client()
    staff_login(client, staff)
    return client


def site_pages() -> list[str]:
    verify, reset = uuid.uuid4(), uuid.uuid4()
    user = User.objects.create_user("pat", "pat@example.com", PASSWORD)
    EmailVerification.objects.create(user=user, token_hash=token_hash(verify))
    PasswordResetToken.objects.create(user=user, token_hash=token_hash(reset))
    return [
        "/",
        "/auth/signup/",
        "/auth/login/",
        "/auth/forgot-password/",
        "/auth/resend-verification/",
        f"/auth/verify-email/{verify}/",
        f"/auth/reset-password/{reset}/",
        "/no-such-page/",
    ]


def test_site_pages_carry_the_headers_and_nothing_the_csp_blocks(db):
    for path in site_pages():
        assert_safe_page(Client().get(path))


def test_signed_in_pages_carry_the_headers_and_nothing_the_csp_blocks(db):
    verified = Client()
    verified.force_login(User.objects.create_user("vic", "vic@example.com", PASSWORD, email_verified_at=timezone.now()))
    for path in ["/", "/candidates/register/1/", "/candidates/dashboard/"]:
        response = verified.get(path)
        assert response.status_code == 200, path
        assert_safe_page(response)
    unverified = Client()
    unverified.force_login(User.objects.create_user("una", "una@example.com", PASSWORD))
    assert_safe_page(unverified.get("/candidates/register/1/"))


def test_token_pages_send_no_token_in_referer(db):
    links = [p for p in site_pages() if p.startswith(("/auth/verify-email/", "/auth/reset-password/"))]
    assert len(links) == 2
    for path in links:
        response = Client().get(path)
        assert response["Referrer-Policy"] == "strict-origin" and "no-store" in response["Cache-Control"]


def test_429_page_is_safe_too(db, settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_EMAIL_FORM_IP = "1/h"
    client = Client()
    client.post("/auth/forgot-password/", {"email": "a@example.com"})
    response = client.post("/auth/forgot-password/", {"email": "b@example.com"})
    assert response.status_code == 429
    assert_safe_page(response)


def test_admin_pages_work_under_the_policy(staff_client, rows):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    PeriodicTask.objects.create(name="demo", task="mailer.sweep", interval=every)
    pages = admin_pages()
    assert any("/periodictask/" in p and p.endswith("/change/") for p in pages)
    for path in pages:
        response = staff_client.get(path)
        assert response.status_code == 200, path
        assert_safe_page(response)


def test_the_periodic_task_form_script_carries_the_nonce(staff_client):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=30, period="seconds")
    task = PeriodicTask.objects.create(name="demo", task="mailer.sweep", interval=every)
    response = staff_client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    nonce = next(s for s in csp_of(response)["script-src"] if s.startswith("'nonce-"))[len("'nonce-") : -1]
    assert f'<script id="periodic-task-overrides" nonce="{nonce}">' in response.content.decode()


def test_the_email_preview_frame_has_its_own_sandboxed_policy(staff_client):
    first = samples.kinds()[0]
    response = staff_client.get(reverse("mailer:preview-html", args=[first, "en"]))
    assert response.status_code == 200
    policy = csp_of(response)
    assert policy["default-src"] == ["'none'"] and "sandbox" in policy
