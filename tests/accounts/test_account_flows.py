"""Email change and account deletion end to end: HTTP client → view → outbox → worker → SES (moto) → link."""

from django.test import Client

from accounts.models import User
from mailer.models import Email, EmailEvent
from tests.support.accounts import emails_to, link_in, messages_of, wait_all_final
from tests.support.candidates import PASSWORD, logged_in, make_user

NEW_PASSWORD = "bhaktapur-square-2083"


def test_email_change_confirmed_from_the_new_inbox_and_undone_from_the_old(e2e, ses):
    sita = make_user("sita", first_name="Sita")
    client = logged_in(sita)
    response = client.post("/auth/email-change/", {"email": "sita.new@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/auth/account/"

    (confirmation,) = emails_to(ses, "sita.new@example.com", "Confirm your new email address")
    path = link_in(confirmation)
    assert path.startswith("/auth/email-change/")
    assert client.get(path).status_code == 200
    assert User.objects.get(pk=sita.pk).email == "sita@example.com"
    response = client.post(path, follow=True)
    assert "Your email address has been changed." in messages_of(response)
    assert User.objects.get(pk=sita.pk).email == "sita.new@example.com"

    # The old address hears of it, with a reset link that works although the
    # account no longer has that address: the way back for a hijacked account.
    (notice,) = emails_to(ses, "sita@example.com", "The email address of your account was changed")
    reset = link_in(notice)
    stranger = Client()
    assert stranger.get(reset).status_code == 200
    done = stranger.post(reset, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}, follow=True)
    assert done.redirect_chain[-1][0] == "/auth/login/"
    assert client.get("/auth/account/").status_code == 302  # the session that changed the address ended
    assert emails_to(ses, "sita.new@example.com", "Your password was changed")
    # Nothing went to the old address but the notice.
    assert len([m for m in ses.sent() if m["To"] == "sita@example.com"]) == 1


def test_email_change_to_a_taken_address_tells_its_owner_only(e2e, ses):
    make_user("ram", first_name="Ram")
    client = logged_in(make_user("sita"))
    response = client.post("/auth/email-change/", {"email": "Ram@example.com", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/auth/account/"
    (notice,) = emails_to(ses, "ram@example.com", "Someone tried to move an account to your address")
    text = notice.get_body(("plain",)).get_content()
    assert "username: ram" in text and "https://electnepal.test/auth/forgot-password/" in text
    assert [m["To"] for m in ses.sent()] == ["ram@example.com"]
    assert User.objects.get(username="sita").email == "sita@example.com"


def test_deletion_sends_the_last_email_in_her_language_then_forgets_her_address(e2e, ses):
    sita = make_user("sita", first_name="सीता", language="ne")
    client = logged_in(sita)
    client.post(
        "/auth/password-change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    wait_all_final()
    (changed,) = Email.objects.filter(template="accounts/email/password_changed")
    assert changed.status == Email.Status.SENT and changed.to == "sita@example.com"
    EmailEvent.objects.create(email=changed, message_id=changed.message_id, type="delivery", recipient=changed.to)

    response = client.post("/auth/delete-account/", {"password": NEW_PASSWORD}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert not User.objects.filter(username="sita").exists()

    (last,) = emails_to(ses, "sita@example.com", "तपाईंको खाता मेटाइयो")
    text = last.get_body(("plain",)).get_content()
    assert "नमस्ते सीता" in text and "https://electnepal.test/auth/signup/" in text
    # Sent, then erased: no row keeps her address, name or username, and her events are gone.
    rows = list(Email.objects.order_by("pk").values_list("template", "status", "to", "context"))
    assert rows == [
        ("accounts/email/password_changed", "sent", "", {}),
        ("accounts/email/account_deleted", "sent", "", {}),
    ]
    assert not EmailEvent.objects.exists()
    assert "sita@example.com" not in str(list(Email.objects.values()))
