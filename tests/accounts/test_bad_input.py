"""Malformed, oversize, non-UUID and Devanagari input: form errors or 404, never a 500."""

import uuid

import pytest
from django.test import Client

from accounts.models import User
from mailer.models import Email
from tests.support.accounts import emails_to, link_in, signup, signup_data


@pytest.mark.parametrize(
    "path",
    ["/auth/verify-email/not-a-uuid/", "/auth/reset-password/12345/", "/auth/verify-email/%E0%A4%95/"],
)
def test_token_paths_that_are_not_uuids_are_404(db, path):
    assert Client().get(path).status_code == 404
    assert Client().post(path).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"username": "x" * 151}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"password2": "something-else-2082"}, "password2"),
        ({"password1": "123", "password2": "123"}, "password1"),
        ({"first_name": "Sita\r\nBcc: victim@example.com"}, "first_name"),
        ({"last_name": "Sharma\nX-Injected: 1"}, "last_name"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"preferred_language": "fr"}, "preferred_language"),
    ],
)
def test_signup_rejects_bad_input_with_a_form_error(db, overrides, field):
    response = signup(Client(), **overrides)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not User.objects.exists() and not Email.objects.exists()


def test_signup_with_missing_fields_and_garbage(db):
    assert Client().post("/auth/signup/", {}).status_code == 200
    assert Client().post("/auth/signup/", {"username": "\x00", "email": "\x00"}).status_code == 200
    assert not User.objects.exists()


@pytest.mark.parametrize("address", ["", "nope", "x" * 300 + "@example.com", "a@b.c\r\nBcc: x@y.z"])
@pytest.mark.parametrize("path", ["/auth/forgot-password/", "/auth/resend-verification/"])
def test_email_forms_reject_bad_addresses(db, path, address):
    response = Client().post(path, {"email": address})
    assert response.status_code == 200 and response.context["form"].errors
    assert not Email.objects.exists()


def test_reset_form_with_missing_fields(db):
    from accounts.models import PasswordResetToken
    from accounts.tokens import token_hash

    user = User.objects.create_user("ram", "ram@example.com", "pw-long-enough-2082")
    token = uuid.uuid4()
    PasswordResetToken.objects.create(user=user, token_hash=token_hash(token))
    response = Client().post(f"/auth/reset-password/{token}/", {})
    assert response.status_code == 200 and response.context["form"].errors


def test_devanagari_names_arrive_as_entered_and_html_is_escaped(e2e, ses):
    client = Client()
    response = signup(client, first_name="सीता <b>&</b>", last_name="शर्मा")
    assert response.status_code == 302
    user = User.objects.get()
    assert user.first_name == "सीता <b>&</b>"
    # The names reach email once the address is verified (the welcome email).
    client.post(link_in(emails_to(ses, "sita@example.com")[0]))
    (message,) = emails_to(ses, "sita@example.com", "Welcome")
    html = message.get_body(("html",)).get_content()
    assert "सीता &lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&</b>" not in html
    assert "सीता <b>&</b>" in message.get_body(("plain",)).get_content()
    assert set(message.keys()) >= {"Subject", "From", "To", "Message-ID"}
    assert "Bcc" not in message


def test_devanagari_username_is_a_form_error_or_accepted_never_500(db):
    response = signup(Client(), username="सीता")
    assert response.status_code in (200, 302)


def test_signup_form_renders(db):
    response = Client().get("/auth/signup/")
    assert response.status_code == 200 and b'name="preferred_language"' in response.content
    assert signup_data()["username"].encode() not in response.content
