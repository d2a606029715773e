"""The account page and its changes, services and views, against PostgreSQL.

Name and language; password change (old password, other sessions end, "password
changed" queued); email change (a link to the new address, nothing changes
before it is followed, the old address told, dead links refused); deletion
(password, the account and what hangs on it gone, the candidate's public page
and photo too, logged out, "account deleted" queued and its row flagged for
erasure). Bad input is a form error or a 404, never a 500 or a half change.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import account_changes as changes
from accounts.models import EmailChange, PasswordResetToken, User
from accounts.tokens import token_hash
from candidates.models import Candidate
from mailer.models import Email
from mailer.outbox.secret_context import decrypt
from tests.support.accounts import messages_of
from tests.support.candidates import PASSWORD, complete_wizard, logged_in, make_user, png, step1, step_url

NEW_PASSWORD = "janakpur-temple-2083"
CHANGE_LINK = re.compile(r"https://electnepal\.test(/auth/email-change/[0-9a-f-]{36}/)$")
RESET_LINK = re.compile(r"https://electnepal\.test(/auth/reset-password/[0-9a-f-]{36}/)$")


def emails(template: str) -> list[Email]:
    return list(Email.objects.filter(template=f"accounts/email/{template}").order_by("pk"))


def secret(email: Email, name: str) -> str:
    return decrypt(email.secret_context)[name]


def errors_of(response) -> dict:
    return {name: [str(e) for e in errs] for name, errs in response.context["form"].errors.items()}


@pytest.fixture
def sita(db):
    return make_user("sita", first_name="Sita", language="ne")


# --- login required -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/auth/account/", "/auth/password-change/", "/auth/email-change/", "/auth/delete-account/"]
)
def test_the_pages_need_a_login(db, path):
    for method in ("get", "post"):
        response = getattr(Client(), method)(path)
        assert response.status_code == 302 and response["Location"] == f"/auth/login/?next={path}"


# --- name and language ----------------------------------------------------------------


def test_account_page_saves_name_and_language_and_switches_the_site(sita):
    client = logged_in(sita)
    page = client.get("/auth/account/")
    assert page.status_code == 200
    for link in (b"/auth/password-change/", b"/auth/email-change/", b"/auth/delete-account/", b"sita@example.com"):
        assert link in page.content
    response = client.post("/auth/account/", {"first_name": "Sita", "last_name": "Sharma", "preferred_language": "en"})
    assert response.status_code == 302 and response["Location"] == "/auth/account/"
    assert response.cookies["django_language"].value == "en"
    sita.refresh_from_db()
    assert (sita.last_name, sita.preferred_language) == ("Sharma", "en")
    assert not Email.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": "Sita\r\nBcc: x@example.com", "last_name": "", "preferred_language": "en"}, "first_name"),
        ({"first_name": "Sita", "last_name": "", "preferred_language": "fr"}, "preferred_language"),
        ({"first_name": "S" * 151, "last_name": "", "preferred_language": "en"}, "first_name"),
    ],
)
def test_account_page_refuses_bad_input(sita, data, field):
    response = logged_in(sita).post("/auth/account/", data)
    assert response.status_code == 200 and field in errors_of(response)
    sita.refresh_from_db()
    assert (sita.first_name, sita.preferred_language) == ("Sita", "ne")


def test_profile_update_refuses_an_unknown_language(sita):
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        changes.user_profile_update(user=sita, first_name="S", last_name="", preferred_language="fr")


# --- password change ------------------------------------------------------------------


def test_password_change_keeps_this_session_ends_the_others_and_queues_the_email(sita):
    here, elsewhere = logged_in(sita), logged_in(sita)
    reset = uuid.uuid4()
    PasswordResetToken.objects.create(user=sita, token_hash=token_hash(reset))
    response = here.post(
        "/auth/password-change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert response.redirect_chain == [("/auth/account/", 302)]
    assert "Your password has been changed. Your other sessions were logged out." in messages_of(response)
    assert here.get("/auth/account/").status_code == 200  # still logged in here
    assert elsewhere.get("/auth/account/").status_code == 302  # logged out there
    sita.refresh_from_db()
    assert sita.check_password(NEW_PASSWORD)
    (email,) = emails("password_changed")
    assert (email.to, email.language, email.priority) == ("sita@example.com", "ne", "high")
    assert email.context["other_sessions"] is True
    # The reset link sent before the change died with the old password.
    assert Client().get(f"/auth/reset-password/{reset}/")["Location"] == "/auth/forgot-password/"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"old_password": "wrong-password-1", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
            "old_password",
        ),
        (
            {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"},
            "new_password2",
        ),
        ({"old_password": PASSWORD, "new_password1": "sita", "new_password2": "sita"}, "new_password2"),
        ({"old_password": PASSWORD}, "new_password1"),
    ],
)
def test_password_change_refuses_bad_input(sita, data, field):
    client = logged_in(sita)
    response = client.post("/auth/password-change/", data)
    assert response.status_code == 200 and field in errors_of(response)
    sita.refresh_from_db()
    assert sita.check_password(PASSWORD)
    assert not Email.objects.exists()


# --- email change ---------------------------------------------------------------------


def request_change(client, email="sita.new@example.com", password=PASSWORD):
    return client.post("/auth/email-change/", {"email": email, "password": password}, follow=True)


def test_email_change_sends_a_link_to_the_new_address_and_changes_nothing_yet(sita):
    response = request_change(logged_in(sita))
    assert response.redirect_chain == [("/auth/account/", 302)]
    assert str(changes_message()) in messages_of(response)
    sita.refresh_from_db()
    assert sita.email == "sita@example.com"
    (email,) = emails("email_change_confirmation")
    assert (email.to, email.language, email.priority) == ("sita.new@example.com", "ne", "high")
    link = CHANGE_LINK.match(secret(email, "confirm_url")).group(1)
    assert link not in str(email.context)  # the token is only in the encrypted part
    (change,) = EmailChange.objects.all()
    assert change.new_email == "sita.new@example.com" and abs(email.expires_at - change.expires_at) < timedelta(
        seconds=1
    )
    assert change.expires_at - change.created_at == timedelta(hours=72)


def changes_message():
    from accounts.account_views import CHECK_NEW_ADDRESS

    return CHECK_NEW_ADDRESS


def confirm_path(n: int = -1) -> str:
    return CHANGE_LINK.match(secret(emails("email_change_confirmation")[n], "confirm_url")).group(1)


def test_confirming_changes_the_address_and_tells_the_old_one(sita):
    client = logged_in(sita)
    request_change(client)
    path = confirm_path()
    page = client.get(path)
    assert (
        page.status_code == 200 and b'<form method="post">' in page.content and b"sita.new@example.com" in page.content
    )
    assert page["Referrer-Policy"] == "strict-origin" and "no-store" in page["Cache-Control"]
    sita.refresh_from_db()
    assert sita.email == "sita@example.com"  # a GET (a mail scanner) changes nothing

    old_reset = uuid.uuid4()
    PasswordResetToken.objects.create(user=sita, token_hash=token_hash(old_reset))
    response = client.post(path, follow=True)
    assert response.redirect_chain == [("/auth/account/", 302)]
    assert "Your email address has been changed." in messages_of(response)
    sita.refresh_from_db()
    assert sita.email == "sita.new@example.com" and sita.email_verified

    (notice,) = emails("email_changed")
    assert (notice.to, notice.language) == ("sita@example.com", "ne")
    reset_path = RESET_LINK.match(secret(notice, "reset_url")).group(1)
    # The old address's way back in: a live reset link; the reset links sent there before are dead.
    assert Client().get(reset_path).status_code == 200
    assert Client().get(f"/auth/reset-password/{old_reset}/").status_code == 302

    # Single use.
    again = client.post(path, follow=True)
    assert "This link to change your email address is invalid, used or expired." in messages_of(again)
    assert len(emails("email_changed")) == 1


def test_confirming_without_a_session_leads_to_login(sita):
    request_change(logged_in(sita))
    response = Client().post(confirm_path())
    assert response["Location"] == "/auth/login/"
    sita.refresh_from_db()
    assert sita.email == "sita.new@example.com"


def test_a_new_request_kills_the_pending_link(sita):
    client = logged_in(sita)
    request_change(client, "first@example.com")
    first = confirm_path()
    request_change(client, "second@example.com")
    assert client.post(first)["Location"] == "/auth/account/"
    sita.refresh_from_db()
    assert sita.email == "sita@example.com"
    client.post(confirm_path())
    sita.refresh_from_db()
    assert sita.email == "second@example.com"


@pytest.mark.parametrize("method", ["get", "post"])
def test_dead_links_go_to_the_account_page_with_an_error(sita, method):
    client = logged_in(sita)
    request_change(client)
    EmailChange.objects.update(created_at=timezone.now() - timedelta(hours=72, seconds=1))
    for path in (confirm_path(), f"/auth/email-change/{uuid.uuid4()}/"):
        response = getattr(client, method)(path, follow=True)
        assert response.redirect_chain == [("/auth/account/", 302)]
        assert "This link to change your email address is invalid, used or expired." in messages_of(response)
    sita.refresh_from_db()
    assert sita.email == "sita@example.com" and not emails("email_changed")
    assert client.get("/auth/email-change/not-a-uuid/").status_code == 404


def test_an_address_taken_before_confirming_is_not_given_twice(sita):
    request_change(logged_in(sita))
    User.objects.create_user("thief", "SITA.NEW@example.com", "x", email_verified_at=timezone.now())
    response = Client().post(confirm_path(), follow=True)
    assert "This address now belongs to another account; your address was not changed." in messages_of(response)
    sita.refresh_from_db()
    assert sita.email == "sita@example.com" and not emails("email_changed")
    assert EmailChange.objects.get().used_at is not None


def test_confirming_an_address_with_pending_sign_ups_takes_it_and_ends_them(sita):
    request_change(logged_in(sita))  # to sita.new@example.com
    pending = User.objects.create_user("probe", "sita.new@example.com", "x", is_active=False)
    response = Client().post(confirm_path(), follow=True)
    assert response.status_code == 200
    sita.refresh_from_db()
    assert sita.email == "sita.new@example.com" and sita.email_verified_at is not None
    assert not User.objects.filter(pk=pending.pk).exists()  # its link can never be confirmed now


@pytest.mark.parametrize(
    "look_alike", ["ram@example.com".replace("a", "\u0430"), "RAM@example.com".replace("R", "\u0280")]
)
def test_a_look_alike_of_a_taken_address_is_refused(sita, look_alike):
    make_user("ram")
    response = logged_in(sita).post("/auth/email-change/", {"email": look_alike, "password": PASSWORD})
    assert response.status_code == 200 and "email" in errors_of(response)
    assert not EmailChange.objects.exists() and not Email.objects.exists()


def test_a_taken_address_gets_no_link_and_its_owner_is_told(sita):
    make_user("ram", first_name="Ram", language="en")
    response = request_change(logged_in(sita), "RAM@example.com")
    assert str(changes_message()) in messages_of(response)
    assert not EmailChange.objects.exists() and not emails("email_change_confirmation")
    (notice,) = emails("email_change_taken")
    assert (notice.to, notice.language, notice.context["username"]) == ("ram@example.com", "en", "ram")
    assert not notice.secret_context


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "sita.new@example.com", "password": "wrong"}, "password", "Your password was entered incorrectly."),
        ({"email": "SITA@example.com", "password": PASSWORD}, "email", "This is already the address of your account."),
        ({"email": "not an address", "password": PASSWORD}, "email", "Enter a valid email address."),
        (
            {"email": "a@example.com\r\nBcc: b@example.com", "password": PASSWORD},
            "email",
            "Enter a valid email address.",
        ),
        ({"password": PASSWORD}, "email", "This field is required."),
    ],
)
def test_email_change_refuses_bad_input(sita, data, field, message):
    response = logged_in(sita).post("/auth/email-change/", data)
    assert response.status_code == 200 and errors_of(response)[field] == [message]
    assert not EmailChange.objects.exists() and not Email.objects.exists()


def test_two_confirmations_of_one_link_change_once(sita):
    request_change(logged_in(sita))
    token = uuid.UUID(confirm_path().split("/")[-2])
    assert changes.email_change_confirm(token=token) is changes.EmailChangeResult.CHANGED
    assert changes.email_change_confirm(token=token) is changes.EmailChangeResult.INVALID


# --- deletion -------------------------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_delete_needs_the_password(sita):
    client = logged_in(sita)
    response = client.post("/auth/delete-account/", {"password": "wrong"})
    assert response.status_code == 200 and errors_of(response) == {
        "password": ["Your password was entered incorrectly."]
    }
    assert User.objects.filter(pk=sita.pk).exists() and not Email.objects.exists()


@pytest.mark.parametrize("status", [Candidate.Status.PENDING, Candidate.Status.APPROVED])
def test_delete_removes_the_account_and_its_candidate_profile(sita, media, status, django_capture_on_commit_callbacks):
    client = logged_in(sita)
    assert client.post(step_url(1), {**step1(), "photo": png()}).status_code == 302
    complete_wizard(client)
    candidate = Candidate.objects.get(user=sita)
    Candidate.objects.filter(pk=candidate.pk).update(status=status)
    photo = media / candidate.photo.name
    assert photo.exists()
    if status == Candidate.Status.APPROVED:
        assert Client().get(f"/candidates/{candidate.pk}/").status_code == 200
    request_change(client, "sita.next@example.com")
    PasswordResetToken.objects.create(user=sita, token_hash=token_hash(uuid.uuid4()))
    earlier = set(
        Email.objects.filter(to__in=["sita@example.com", "sita.next@example.com"]).values_list("pk", flat=True)
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/auth/delete-account/", {"password": PASSWORD}, follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert "Your account has been deleted. We have sent you a last email to confirm it." in messages_of(response)
    assert not response.wsgi_request.user.is_authenticated
    assert not User.objects.filter(username="sita").exists()
    assert (
        not Candidate.objects.exists() and not EmailChange.objects.exists() and not PasswordResetToken.objects.exists()
    )
    assert Client().get(f"/candidates/{candidate.pk}/").status_code == 404
    assert not photo.exists()
    (last,) = emails("account_deleted")
    assert (last.to, last.language, last.status, last.context["username"]) == (
        "sita@example.com",
        "ne",
        "queued",
        "sita",
    )
    # Every email to her addresses, the last one included, is erased once final.
    assert set(Email.objects.filter(erase_when_final=True).values_list("pk", flat=True)) == earlier | {last.pk}
    assert client.get("/auth/account/").status_code == 302


def test_a_failed_deletion_changes_nothing(sita, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr(changes.mail, "recipient_erase", broken)
    client = logged_in(sita)
    client.raise_request_exception = False
    response = client.post("/auth/delete-account/", {"password": PASSWORD})
    assert response.status_code == 500
    assert User.objects.filter(pk=sita.pk).exists() and not Email.objects.exists()
    assert client.get("/auth/account/").status_code == 200  # still logged in


# --- rate limits ----------------------------------------------------------------------


def test_email_change_is_limited_per_address(sita, limits_on):
    limits_on.RATELIMIT_EMAIL_FORM_ADDRESS = "2/h"
    client = logged_in(sita)
    assert [request_change(client, "target@example.com").status_code for _ in range(3)] == [200, 200, 429]
    assert request_change(client, "other@example.com").status_code == 200


def test_password_forms_are_limited_per_account(sita, limits_on):
    limits_on.RATELIMIT_ACCOUNT_PASSWORD_CHECKS = "3/h"
    client = logged_in(sita)
    wrong = {"old_password": "guess", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    codes = [client.post("/auth/password-change/", wrong).status_code for _ in range(2)]
    codes.append(client.post("/auth/delete-account/", {"password": "guess"}).status_code)
    codes.append(client.post("/auth/delete-account/", {"password": PASSWORD}).status_code)
    assert codes == [200, 200, 200, 429]
    assert User.objects.filter(pk=sita.pk).exists()
