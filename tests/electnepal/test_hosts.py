"""The Host header: links come from SITE_URL; a foreign Host is refused (400); X-Forwarded-Host is not believed."""

import pytest
from django.test import Client

from accounts.models import AddressRequest, User
from mailer.models import Email
from mailer.outbox import secret_context
from tests.support.accounts import PASSWORD, handle_address_requests


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
    values = {**email.context, **secret_context.decrypt(email.secret_context)}
    return [v for k, v in values.items() if k.endswith("_url")]


def test_every_link_comes_from_site_url_whatever_the_host(db, settings):
    settings.ALLOWED_HOSTS = ["testserver", "alias.example"]
    User.objects.create_user("known", "known@example.com", PASSWORD)
    client = Client(HTTP_HOST="alias.example", HTTP_X_FORWARDED_HOST="evil.example")
    client.post("/auth/forgot-password/", {"email": "known@example.com"})
    client.post(
        "/auth/signup/",
        {
            "username": "sita",
            "email": "sita@example.com",
            "first_name": "Sita",
            "last_name": "Sharma",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    client.post(
        "/auth/signup/",
        {
            "username": "imp",
            "email": "known@example.com",
            "first_name": "I",
            "last_name": "M",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    handle_address_requests()
    links = [link for email in Email.objects.all() for link in _links_of(email)]
    assert {e.template.rsplit("/", 1)[1] for e in Email.objects.all()} == {
        "password_reset",
        "verification",
        "account_exists",
    }
    assert links and all(link.startswith("https://electnepal.test/") for link in links), links
