"""Link tokens: 122 random bits, only a hash at rest, exact lifetimes, single use, killed by any password change.

One of two concurrent resets with one token wins; no raw token is in any table or in
email.log. Also proven elsewhere: single use, sessions ended, "password changed"
queued (test_flows.py); tokens kept out of logs and exception reports
(tests/electnepal/test_redaction.py); task arguments are row ids, which is what
Flower shows (tests/mailer/outbox/test_publish.py).
"""

import hashlib
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import EmailVerification, PasswordResetToken, User
from accounts.tokens import new_token, token_hash
from mailer.models import Email
from mailer.outbox import secret_context
from tests.support.accounts import PASSWORD, emails_to, link_in, reset_token, signup
from tests.support.mfa import staff_login

NEW_PASSWORD = "pokhara-lakeside-2083"


def make_user(**kwargs) -> User:
    user = User(username=kwargs.pop("username", "ram"), email=kwargs.pop("email", "ram@example.com"), **kwargs)
    user.set_password(PASSWORD)
    user.save()
    return user


def token_for(model, user, age: timedelta) -> uuid.UUID:
    token = new_token()
    model.objects.create(user=user, token_hash=token_hash(token), created_at=timezone.now() - age)
    return token


def _link_token(email: Email, link_name: str) -> uuid.UUID:
    """The raw token of an email's link: it exists only in the email's encrypted secret context."""
    return uuid.UUID(secret_context.decrypt(email.secret_context)[link_name].rstrip("/").rsplit("/", 1)[1])


def test_token_has_122_random_bits_and_only_its_hash_is_stored(db):
    """The tokens the services really make and store: read back from the database."""
    user = make_user(is_active=False)  # a pending sign-up: both links apply
    services.password_reset_request(email=user.email)
    services.password_reset_request(email=user.email)
    services.verification_resend(email=user.email)
    emails = list(Email.objects.order_by("pk"))
    tokens = [_link_token(e, "reset_url") for e in emails[:2]] + [_link_token(emails[2], "verify_url")]
    for token in tokens:
        # UUIDv4, RFC 4122 variant: 122 of its 128 bits come from os.urandom.
        assert token.version == 4 and token.variant == uuid.RFC_4122
    assert len(set(tokens)) == 3
    # What is stored is each token's SHA-256, and nothing else holds the token.
    stored = list(PasswordResetToken.objects.order_by("pk").values_list("token_hash", flat=True))
    stored += list(EmailVerification.objects.values_list("token_hash", flat=True))
    assert stored == [hashlib.sha256(str(token).encode()).hexdigest() for token in tokens]
    dump = _every_table_as_text()
    for token in tokens:
        assert str(token) not in dump and token.hex not in dump


@pytest.mark.parametrize(
    ("age", "verified"),
    [(timedelta(hours=72) - timedelta(seconds=1), True), (timedelta(hours=72) + timedelta(seconds=1), False)],
)
def test_verification_link_lives_72_hours(db, age, verified):
    user = make_user(is_active=False)
    token = token_for(EmailVerification, user, age)
    response = Client().post(f"/auth/verify-email/{token}/")
    user.refresh_from_db()
    assert user.is_active is verified
    assert response["Location"] == ("/auth/login/" if verified else "/auth/resend-verification/")


@pytest.mark.parametrize(
    ("age", "live"),
    [(timedelta(hours=24) - timedelta(seconds=1), True), (timedelta(hours=24) + timedelta(seconds=1), False)],
)
def test_reset_link_lives_24_hours(db, age, live):
    token = token_for(PasswordResetToken, make_user(), age)
    response = Client().get(f"/auth/reset-password/{token}/")
    if live:
        assert response.status_code == 200
    else:
        assert response.status_code == 302 and response["Location"] == "/auth/forgot-password/"


def test_unknown_tokens(db):
    unknown = uuid.uuid4()
    verify = Client().post(f"/auth/verify-email/{unknown}/")
    assert verify.status_code == 302 and verify["Location"] == "/auth/login/"
    reset = Client().get(f"/auth/reset-password/{unknown}/")
    assert reset.status_code == 302 and reset["Location"] == "/auth/forgot-password/"


def test_two_concurrent_resets_with_one_token_one_wins(transactional_db):
    user = make_user()
    token = token_for(PasswordResetToken, user, timedelta(0))
    barrier = threading.Barrier(2)
    locations = []

    def post(password):
        barrier.wait()
        response = Client().post(f"/auth/reset-password/{token}/", {"password": password, "password_confirm": password})
        locations.append(response["Location"])

    threads = [threading.Thread(target=post, args=(p,)) for p in (NEW_PASSWORD, NEW_PASSWORD + "-other")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(locations) == ["/auth/forgot-password/", "/auth/login/"]
    assert Email.objects.filter(template="accounts/email/password_changed").count() == 1


def _every_table_as_text() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            chunks.extend(row[0] for row in cursor.fetchall())
    return "\n".join(chunks).lower()


def test_raw_tokens_are_in_no_table_and_no_log(e2e, ses, settings):
    client = Client()
    signup(client)
    verify_path = link_in(emails_to(ses, "sita@example.com", "Confirm")[0])
    client.post(verify_path)
    client.post("/auth/forgot-password/", {"email": "sita@example.com"})
    reset_path = link_in(emails_to(ses, "sita@example.com", "Reset")[0])
    # Before the reset is used, while its email row still exists.
    tokens = [verify_path.split("/")[-2], reset_path.split("/")[-2]]
    dump = _every_table_as_text()
    log = (settings.LOG_DIR / "email.log").read_text().lower()
    for token in tokens:
        for form in (token, token.replace("-", "")):
            assert form not in dump
            assert form not in log
    assert Email.objects.count() == 3 and not Email.objects.exclude(secret_context="").exists()


# --- Any password change kills every reset link ---------------------------------------


def assert_dead(token):
    response = Client().get(f"/auth/reset-password/{token}/")
    assert response.status_code == 302 and response["Location"] == "/auth/forgot-password/"
    post = Client().post(
        f"/auth/reset-password/{token}/", {"password": "x" + NEW_PASSWORD, "password_confirm": "x" + NEW_PASSWORD}
    )
    assert post["Location"] == "/auth/forgot-password/"


def test_a_password_set_anywhere_kills_outstanding_reset_links(user):
    tokens = [reset_token(user), reset_token(user)]
    assert Client().get(f"/auth/reset-password/{tokens[0]}/").status_code == 200
    user.set_password(NEW_PASSWORD)  # the admin's form, changepassword, a shell: all end here
    user.save()
    for token in tokens:
        assert_dead(token)
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    # A link asked for after the change works.
    fresh = reset_token(user)
    assert Client().get(f"/auth/reset-password/{fresh}/").status_code == 200


def test_the_admin_password_form_kills_outstanding_reset_links(user):
    token = reset_token(user)
    staff = User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    client = Client()
    staff_login(client, staff)
    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert_dead(token)


def test_a_reset_kills_the_other_links_and_the_sessions(user):
    used, other = reset_token(user), reset_token(user)
    elsewhere = Client()
    elsewhere.force_login(user)
    assert elsewhere.get("/").wsgi_request.user.is_authenticated
    done = Client().post(f"/auth/reset-password/{used}/", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done["Location"] == "/auth/login/"
    assert_dead(used)
    assert_dead(other)
    assert not elsewhere.get("/").wsgi_request.user.is_authenticated
    from mailer.models import Email

    assert list(Email.objects.values_list("template", flat=True)) == ["accounts/email/password_changed"]
