"""Each account flow end to end: HTTP client → view → outbox → worker → SES (moto) → link."""

import pytest
from django.test import Client

from accounts.models import EmailVerification, PasswordResetToken, User
from mailer.models import Email
from tests.support.accounts import PASSWORD, emails_to, link_in, messages_of, signup

NEW_PASSWORD = "pokhara-lakeside-2083"


def test_signup_verify_login(e2e, ses):
    client = Client()
    response = signup(client)
    assert response.status_code == 302 and response["Location"] == "/auth/login/"
    user = User.objects.get(username="sita")
    assert not user.is_active and not user.email_verified

    (verification,) = emails_to(ses, "sita@example.com", "Confirm your email")
    path = link_in(verification)

    # GET only shows the confirmation button: mail scanners fetch links.
    page = client.get(path)
    assert page.status_code == 200 and b'<form method="post"' in page.content
    assert not User.objects.get(pk=user.pk).is_active

    response = client.post(path, follow=True)
    assert response.redirect_chain[-1][0] == "/auth/login/"
    assert "Your email address is verified. You can log in now." in messages_of(response)
    user.refresh_from_db()
    assert user.is_active and user.email_verified

    assert emails_to(ses, "sita@example.com", "Welcome to ElectNepal")
    assert client.login(username="sita", password=PASSWORD)

    # The link a second time: already verified.
    again = client.post(path, follow=True)
    assert "This address is already verified. Please log in." in messages_of(again)


def test_verify_on_get_when_configured(e2e, ses, settings):
    settings.VERIFY_EMAIL_ON_GET = True
    client = Client()
    signup(client)
    path = link_in(emails_to(ses, "sita@example.com")[0])
    assert client.get(path)["Location"] == "/auth/login/"
    assert User.objects.get(username="sita").is_active


def test_signup_with_taken_address_looks_the_same_and_warns_the_owner(e2e, ses):
    client = Client()
    first = signup(client, username="sita")
    client.post(
        link_in(emails_to(ses, "sita@example.com", "Confirm your email")[0])
    )  # sita's account holds the address
    second = signup(Client(), username="impostor", email="SITA@example.com", first_name="Imp")
    for response in (first, second):
        assert response.status_code == 302 and response["Location"] == "/auth/login/"
    assert set(first.cookies) == set(second.cookies)
    # The impostor is a pending sign-up like any other, whose link nobody receives.
    impostor = User.objects.get(username="impostor")
    assert not impostor.is_active and not impostor.email_verified
    (warning,) = emails_to(ses, "sita@example.com", "You already have an account")
    assert len(emails_to(ses, "sita@example.com", "Confirm your email")) == 1  # sita's own, before
    text = warning.get_body(("plain",)).get_content()
    assert "https://electnepal.test/auth/forgot-password/" in text
    assert "username: sita" in text
    assert "Imp" not in text and "impostor" not in text


def test_login_of_unverified_account_says_to_verify(e2e, ses):
    client = Client()
    signup(client)
    response = client.post("/auth/login/", {"username": "sita", "password": PASSWORD})
    assert response.status_code == 200
    assert b"Please verify your email address first." in response.content
    assert b"/auth/resend-verification/" in response.content
    wrong = client.post("/auth/login/", {"username": "sita", "password": "not-the-password"})
    assert b"Please verify" not in wrong.content


def test_resend_replaces_the_old_link(e2e, ses, settings):
    settings.ACCOUNTS_RESEND_INTERVAL_SECONDS = 0
    client = Client()
    signup(client)
    old_path = link_in(emails_to(ses, "sita@example.com")[0])
    response = client.post("/auth/resend-verification/", {"email": "sita@example.com"}, follow=True)
    assert response.redirect_chain[-1][0] == "/auth/resend-verification/"
    messages = emails_to(ses, "sita@example.com", "Confirm your email")
    assert len(messages) == 2
    new_path = link_in(messages[1])
    assert new_path != old_path
    assert "This verification link is not valid." in messages_of(client.post(old_path, follow=True))
    assert not User.objects.get(username="sita").is_active
    client.post(new_path)
    assert User.objects.get(username="sita").is_active


def test_resend_sends_at_most_one_email_per_interval(e2e, ses):
    client = Client()
    signup(client)
    for _ in range(3):
        client.post("/auth/resend-verification/", {"email": "sita@example.com"})
    assert len(emails_to(ses, "sita@example.com", "Confirm your email")) == 1
    assert EmailVerification.objects.count() == 1


def test_forgot_reset_login_and_old_sessions_end(e2e, ses):
    signup(Client())
    User.objects.filter(username="sita").update(is_active=True)
    old_session = Client()
    assert old_session.login(username="sita", password=PASSWORD)
    assert old_session.get("/auth/signup/").wsgi_request.user.is_authenticated

    client = Client()
    response = client.post("/auth/forgot-password/", {"email": "sita@example.com"})
    assert response.status_code == 302
    (reset,) = emails_to(ses, "sita@example.com", "Reset your password")
    path = link_in(reset)

    form = client.get(path)
    assert form.status_code == 200
    assert form["Referrer-Policy"] == "strict-origin"
    assert "no-store" in form["Cache-Control"]
    assert client.get(path).status_code == 200  # showing the form uses nothing up

    done = client.post(path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/auth/login/"
    assert not done.wsgi_request.user.is_authenticated  # not logged in by the reset

    user = User.objects.get(username="sita")
    assert user.check_password(NEW_PASSWORD) and user.email_verified
    assert not old_session.get("/auth/signup/").wsgi_request.user.is_authenticated
    assert Client().login(username="sita", password=NEW_PASSWORD)
    assert emails_to(ses, "sita@example.com", "Your password was changed")

    # Single use.
    reused = client.get(path)
    assert reused.status_code == 302 and reused["Location"] == "/auth/forgot-password/"


def test_reset_kills_every_other_reset_link(e2e, ses):
    signup(Client())
    client = Client()
    client.post("/auth/forgot-password/", {"email": "sita@example.com"})
    (first,) = (link_in(m) for m in emails_to(ses, "sita@example.com", "Reset your password"))
    assert client.get(first).status_code == 200
    # A new request revokes the earlier link at once, before any reset.
    client.post("/auth/forgot-password/", {"email": "sita@example.com"})
    (second,) = {link_in(m) for m in emails_to(ses, "sita@example.com", "Reset your password")} - {first}
    assert client.get(first)["Location"] == "/auth/forgot-password/"
    assert client.get(second).status_code == 200
    assert PasswordResetToken.objects.filter(used_at__isnull=True).count() == 1
    # Completing a reset kills the link it used, and every other.
    done = client.post(second, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done["Location"] == "/auth/login/"
    for path in (first, second):
        assert client.get(path)["Location"] == "/auth/forgot-password/"
    assert not PasswordResetToken.objects.filter(used_at__isnull=True).exists()


def test_reset_rejects_weak_and_mismatched_passwords(e2e, ses):
    signup(Client())
    client = Client()
    client.post("/auth/forgot-password/", {"email": "sita@example.com"})
    path = link_in(emails_to(ses, "sita@example.com", "Reset your password")[0])
    weak = client.post(path, {"password": "123", "password_confirm": "123"})
    assert weak.status_code == 200 and weak.context["form"].errors["password"]
    mismatch = client.post(path, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"})
    assert mismatch.context["form"].errors["password_confirm"]
    assert User.objects.get(username="sita").check_password(PASSWORD)


@pytest.mark.parametrize(
    ("language", "subject"), [("en", "Confirm your email address"), ("ne", "आफ्नो इमेल ठेगाना पुष्टि गर्नुहोस्")]
)
def test_verification_email_in_the_users_language(e2e, ses, language, subject):
    signup(Client(), preferred_language=language)
    (message,) = emails_to(ses, "sita@example.com")
    # Django folds a long UTF-8 subject into encoded words after a line break, which
    # Python's parser reads back with one leading space.
    assert message["Subject"].strip() == f"[ElectNepal] {subject}"
    assert Email.objects.get().language == language


# What a sign-up types: a link, a phone number, an advert.
CHOSEN = {"first_name": "Visit evil.example", "last_name": "Win a prize"}
CHOSEN_TEXT = ("evil.example", "Win a prize", "9800000000", "9800000001")


def parts(message) -> list[str]:
    return [message["Subject"], message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()]


@pytest.mark.parametrize("language", ["en", "ne"])
def test_email_to_an_unverified_address_carries_no_text_the_requester_chose(e2e, ses, language):
    from django.utils import timezone

    owner = User(username="owner", email="owner@example.com", email_verified_at=timezone.now(), first_name="Gita")
    owner.set_password(PASSWORD)
    owner.save()
    # The verification email of a new address; the "account exists" email of a taken one;
    # a reset asked for a pending sign-up's address (the names are still the sign-up's).
    signup(Client(), username="call-9800000000", email="fresh@example.com", preferred_language=language, **CHOSEN)
    signup(Client(), username="call-9800000001", email="owner@example.com", preferred_language=language, **CHOSEN)
    Client().post("/auth/forgot-password/", {"email": "fresh@example.com"})
    messages = emails_to(ses, "fresh@example.com") + emails_to(ses, "owner@example.com")
    assert sorted(Email.objects.values_list("template", flat=True)) == [
        "accounts/email/account_exists",
        "accounts/email/password_reset",
        "accounts/email/verification",
    ]
    assert len(messages) == 3
    for message in messages:
        for part in parts(message):
            for text in CHOSEN_TEXT:
                assert text not in part, (message["Subject"], text)
    # The owner is reminded of the account with the name the owner chose.
    (exists,) = emails_to(ses, "owner@example.com")
    assert "owner" in parts(exists)[1]
