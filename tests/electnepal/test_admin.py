"""The admin pages staff use every day render (no 500) with real rows in them."""

import pytest
from django.utils import timezone

from accounts.models import User
from mailer.models import Email, Suppression
from tests.support.mfa import staff_login


@pytest.fixture
def staff_client(client, db):
    admin = User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082")
    staff_login(client, admin)
    Email.objects.create(template="accounts/email/welcome", to="a@example.com", next_attempt_at=timezone.now())
    Suppression.objects.create(address="b@example.com")
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/mailer/email/",
        "/admin/mailer/suppression/",
        "/admin/accounts/user/",
        "/admin/accounts/emailverification/",
        "/admin/accounts/passwordresettoken/",
        "/admin/django_celery_beat/periodictask/",
    ],
)
def test_admin_pages(staff_client, path):
    assert staff_client.get(path).status_code == 200


def test_email_detail_hides_the_encrypted_context(staff_client):
    email = Email.objects.get()
    page = staff_client.get(f"/admin/mailer/email/{email.pk}/change/")
    assert page.status_code == 200 and b"secret_context" not in page.content


def test_admin_is_staff_only(client, db):
    assert client.get("/admin/mailer/email/")["Location"].startswith("/admin/login/")
