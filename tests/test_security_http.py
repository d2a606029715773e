"""Host header, production settings, security headers, the CSP, staff-only pages.

- Links come from SITE_URL; a foreign Host is refused (400); X-Forwarded-Host and
  X-Forwarded-Proto are believed only when configured.
- ``manage.py check --deploy`` is clean with production settings, and fails
  without each of them; SECRET_KEY is required; production defaults are safe.
- Every page carries the security headers and a Content-Security-Policy without
  'unsafe-inline', and no page we serve (admin included) holds anything that
  policy would block: inline script or style, style attributes, event handlers.
- Admin, mail dashboard, email previews and metrics are staff-only.
"""

import json
import os
import secrets
import subprocess
import sys
import uuid
from html.parser import HTMLParser

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AddressRequest, EmailVerification, PasswordResetToken, User
from accounts.tokens import token_hash
from mailer.outbox import secret_context as mail_secrets
from mailer.rendering import samples as previews
from mailer.models import Email
from tests.accounts.helpers import handle_address_requests

ROOT = django_settings.BASE_DIR
PASSWORD = "kathmandu-valley-2082"


def _clean_env(**extra) -> dict:
    """A process environment holding only what a production host would set (no .env, no test settings)."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH"}}
    env.update(READ_DOT_ENV="false", DJANGO_SETTINGS_MODULE="electnepal.settings", LOG_DIR=str(ROOT / "var" / "test-logs"))
    env.update(extra)
    return env


def production_settings(*names: str, **env) -> dict:
    """Setting values as electnepal.settings computes them with DEBUG=false and ``env``."""
    env = {"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(64), **env}
    script = (
        "import json, sys; import electnepal.settings as s; "
        "print(json.dumps({n: getattr(s, n, None) for n in sys.argv[1:]}, default=repr))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *names], cwd=ROOT, env=_clean_env(**env), capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# What README "Security" lists for a production host behind a TLS-terminating proxy.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "electnepal.example.org",
    "SITE_URL": "https://electnepal.example.org",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    "TRUSTED_PROXY_COUNT": "1",
}


def check_deploy(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=_clean_env(**env), capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = check_deploy({**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "change,warning",
    [
        ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SECURE_COOKIES": "false"}, "security.W012"),
        ({"SECRET_KEY": "short-key"}, "security.W009"),
        ({"DEBUG": "true"}, "security.W018"),
    ],
)
def test_check_deploy_fails_without_each_production_setting(change, warning):
    result = check_deploy({**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(64), **change})
    assert result.returncode != 0 and warning in result.stdout + result.stderr


def test_secret_key_is_required_without_debug():
    result = subprocess.run(
        [sys.executable, "-c", "import electnepal.settings"], cwd=ROOT, env=_clean_env(DEBUG="false"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_defaults_are_safe():
    values = production_settings(
        "DEBUG", "ALLOWED_HOSTS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY",
        "SECURE_CONTENT_TYPE_NOSNIFF", "SECURE_REFERRER_POLICY", "X_FRAME_OPTIONS", "USE_X_FORWARDED_HOST",
        "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "DEFAULT_EXCEPTION_REPORTER",
    )
    assert values == {
        "DEBUG": False,
        "ALLOWED_HOSTS": [],  # nothing answers until the operator names the host
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        "USE_X_FORWARDED_HOST": False,
        "SECURE_PROXY_SSL_HEADER": None,  # X-Forwarded-Proto believed only when configured
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "DEFAULT_EXCEPTION_REPORTER": "electnepal.redaction.RedactingExceptionReporter",
    }
    assert production_settings("SECURE_PROXY_SSL_HEADER", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO") == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]
    }


# --- Host header --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/auth/signup/", "/auth/login/", "/auth/forgot-password/", "/admin/"])
def test_a_foreign_host_is_refused(db, path):
    assert Client(HTTP_HOST="evil.example").get(path).status_code == 400
    assert Client(HTTP_HOST="electnepal.test.evil.example").get(path).status_code == 400


def test_a_post_with_a_foreign_host_does_nothing(db):
    User.objects.create_user("known", "known@example.com", PASSWORD)
    response = Client(HTTP_HOST="evil.example").post("/auth/forgot-password/", {"email": "known@example.com"})
    assert response.status_code == 400
    assert not AddressRequest.objects.exists()


def test_x_forwarded_host_is_not_believed(db):
    client = Client(HTTP_HOST="testserver", HTTP_X_FORWARDED_HOST="evil.example")
    response = client.get("/auth/forgot-password/")
    assert response.status_code == 200 and response.wsgi_request.get_host() == "testserver"


def _links_of(email: Email) -> list[str]:
    values = {**email.context, **mail_secrets.decrypt(email.secret_context)}
    return [v for k, v in values.items() if k.endswith("_url")]


def test_every_link_comes_from_site_url_whatever_the_host(db, settings):
    settings.ALLOWED_HOSTS = ["testserver", "alias.example"]
    User.objects.create_user("known", "known@example.com", PASSWORD)
    client = Client(HTTP_HOST="alias.example", HTTP_X_FORWARDED_HOST="evil.example")
    client.post("/auth/forgot-password/", {"email": "known@example.com"})
    client.post("/auth/signup/", {
        "username": "sita", "email": "sita@example.com", "first_name": "Sita", "last_name": "Sharma",
        "password1": PASSWORD, "password2": PASSWORD,
    })
    client.post("/auth/signup/", {
        "username": "imp", "email": "known@example.com", "first_name": "I", "last_name": "M",
        "password1": PASSWORD, "password2": PASSWORD,
    })
    handle_address_requests()
    links = [link for email in Email.objects.all() for link in _links_of(email)]
    assert {e.template.rsplit("/", 1)[1] for e in Email.objects.all()} == {"password_reset", "verification", "account_exists"}
    assert links and all(link.startswith("https://electnepal.test/") for link in links), links


# --- HTTPS behind a proxy -------------------------------------------------------------


def test_https_redirect_and_hsts(db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    plain = Client().get("/auth/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/auth/login/"
    # A client saying "https" in X-Forwarded-Proto is not believed without the setting...
    assert Client(HTTP_X_FORWARDED_PROTO="https").get("/auth/login/").status_code == 301
    secure = Client().get("/auth/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # ... and is with it (the proxy sets the header and strips the client's).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert Client(HTTP_X_FORWARDED_PROTO="https").get("/auth/login/").status_code == 200


# --- Headers and the Content-Security-Policy ----------------------------------------------


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
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
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
    assert response["Referrer-Policy"] in ("same-origin", "no-referrer")
    policy = csp_of(response)
    assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["style-src"] == ["'self'"]
    flat = " ".join(" ".join(v) for v in policy.values())
    assert "unsafe-inline" not in flat and "unsafe-eval" not in flat and "*" not in flat
    nonce = next((s[len("'nonce-"):-1] for s in policy["script-src"] if s.startswith("'nonce-")), None)
    parser = InlineContent(nonce)
    parser.feed(response.content.decode())
    assert parser.found == [], f"{response.wsgi_request.path}: {parser.found}"


@pytest.fixture
def staff_client(db):
    staff = User.objects.create_superuser("admin", "admin@example.com", PASSWORD, email_verified_at=timezone.now())
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def rows(db):
    user = User.objects.create_user("ram", "ram@example.com", PASSWORD, email_verified_at=timezone.now())
    EmailVerification.objects.create(user=user, token_hash=token_hash(uuid.uuid4()))
    PasswordResetToken.objects.create(user=user, token_hash=token_hash(uuid.uuid4()))
    Email.objects.create(template="accounts/email/welcome", to="ram@example.com", next_attempt_at=timezone.now())


def site_pages() -> list[str]:
    verify, reset = uuid.uuid4(), uuid.uuid4()
    user = User.objects.create_user("pat", "pat@example.com", PASSWORD)
    EmailVerification.objects.create(user=user, token_hash=token_hash(verify))
    PasswordResetToken.objects.create(user=user, token_hash=token_hash(reset))
    return [
        "/", "/auth/signup/", "/auth/login/", "/auth/forgot-password/", "/auth/resend-verification/",
        f"/auth/verify-email/{verify}/", f"/auth/reset-password/{reset}/", "/no-such-page/",
    ]


def admin_pages() -> list[str]:
    """The admin's index, every model's list and add form, and the change form of each row there is."""
    from django.test import RequestFactory

    superuser = RequestFactory().get("/admin/")
    superuser.user = User(is_staff=True, is_superuser=True, is_active=True)
    pages = ["/admin/", "/admin/mailer/dashboard/", "/mailer/preview/"]
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        pages.append(reverse("admin:%s_%s_changelist" % info))
        if model_admin.has_add_permission(superuser):
            pages.append(reverse("admin:%s_%s_add" % info))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            pages.append(reverse("admin:%s_%s_change" % info, args=[obj.pk]))
    first = previews.kinds()[0]
    pages.append(reverse("mailer:preview", args=[first, "en"]))
    return pages


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


def test_token_pages_send_no_referrer(db):
    links = [p for p in site_pages() if p.startswith(("/auth/verify-email/", "/auth/reset-password/"))]
    assert len(links) == 2
    for path in links:
        response = Client().get(path)
        assert response["Referrer-Policy"] == "no-referrer" and "no-store" in response["Cache-Control"]


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
    nonce = next(s for s in csp_of(response)["script-src"] if s.startswith("'nonce-"))[len("'nonce-"):-1]
    assert f'<script id="periodic-task-overrides" nonce="{nonce}">' in response.content.decode()


def test_the_email_preview_frame_has_its_own_sandboxed_policy(staff_client):
    first = previews.kinds()[0]
    response = staff_client.get(reverse("mailer:preview-html", args=[first, "en"]))
    assert response.status_code == 200
    policy = csp_of(response)
    assert policy["default-src"] == ["'none'"] and "sandbox" in policy


# --- Staff only ------------------------------------------------------------------------------


def staff_only_pages() -> list[str]:
    first = previews.kinds()[0]
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
