"""No account enumeration on sign-up, resend-verification, forgot-password and login.

For each form, a known and an unknown address (or username) get the same full
response: status, redirect, every header but cookies (and the same cookie names),
the body without its CSRF token, and the page the redirect leads to. And the two
paths do the same work in the request, counted: password hashes, SQL queries,
outbox writes, address requests, on-commit publishes; none opens an email
connection. Emails go only to accounts that exist, decided by the worker. Timing is
measured in bench/enumeration.py, not asserted here.
"""

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import AddressRequest, User
from mailer.models import Email
from tests.support.accounts import PASSWORD, handle_address_requests, messages_of
from tests.support.enumeration import counted, snapshot


@pytest.fixture
def accounts(db, settings):
    settings.EMAIL_BACKEND = "tests.support.enumeration.NoEmailInRequests"
    settings.RATELIMIT_ENABLE = True  # the limits' own work is part of each request
    verified = User(username="known", email="known@example.com", email_verified_at=timezone.now())
    verified.set_password(PASSWORD)
    verified.save()
    pending = User(username="pending", email="pending@example.com", is_active=False)
    pending.set_password(PASSWORD)
    pending.save()


def exchange(path: str, data: dict, *, ip: str, mask: str = "") -> list[dict]:
    """The POST and every page its redirects lead to, as snapshots."""
    client = Client(REMOTE_ADDR=ip)
    client.get(path)  # a real visitor loads the form first (and gets the CSRF cookie)
    response = client.post(path, data)
    chain = [snapshot(response, mask=mask)]
    while response.status_code in (301, 302):
        response = client.get(response["Location"])
        chain.append(snapshot(response, mask=mask))
    return chain


def work(path: str, data: dict, *, ip: str) -> dict:
    client = Client(REMOTE_ADDR=ip)
    with counted(address_requests=(services, "address_request_submit")) as counts:
        response = client.post(path, data)
    assert response.status_code in (200, 302)
    return counts


def signup_data(email: str, username: str) -> dict:
    return {
        "username": username,
        "email": email,
        "first_name": "Sita",
        "last_name": "Sharma",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "preferred_language": "en",
    }


# --- resend-verification and forgot-password ------------------------------------------


EMAIL_FORMS = ["/auth/forgot-password/", "/auth/resend-verification/"]
KNOWN_ADDRESSES = ["known@example.com", "pending@example.com", "KNOWN@Example.com"]


@pytest.mark.parametrize("path", EMAIL_FORMS)
@pytest.mark.parametrize("known", KNOWN_ADDRESSES)
def test_email_forms_answer_known_and_unknown_addresses_alike(accounts, path, known):
    assert exchange(path, {"email": known}, ip="192.0.2.1") == exchange(
        path, {"email": "nobody@example.com"}, ip="192.0.2.2"
    )


@pytest.mark.parametrize("path", EMAIL_FORMS)
@pytest.mark.parametrize("known", KNOWN_ADDRESSES)
def test_email_forms_do_the_same_work_for_known_and_unknown_addresses(accounts, path, known):
    known_work = work(path, {"email": known}, ip="192.0.2.3")
    unknown_work = work(path, {"email": "nobody@example.com"}, ip="192.0.2.4")
    assert known_work == unknown_work
    # What that work is: one address request and its publish; no hash, no lookup, no email row.
    assert known_work["hashes"] == 0 and known_work["enqueue"] == 0
    assert known_work["address_requests"] == 1 and known_work["on_commit"] == 1


def test_only_the_worker_tells_known_from_unknown(accounts):
    for address in ("known@example.com", "nobody@example.com"):
        Client().post("/auth/forgot-password/", {"email": address})
    assert sorted(AddressRequest.objects.values_list("email", flat=True)) == ["known@example.com", "nobody@example.com"]
    assert not Email.objects.exists()  # nothing decided in the request
    for pk in AddressRequest.objects.values_list("pk", flat=True):
        services.address_request_process(request_id=pk)
    assert list(Email.objects.values_list("to", flat=True)) == ["known@example.com"]
    assert not AddressRequest.objects.exists()


def answer(path: str, address: str):
    response = Client().post(path, {"email": address}, follow=True)
    return (
        response.status_code,
        response.redirect_chain,
        messages_of(response),
        sorted(response.cookies),
        sorted(k for k in response.headers if k.lower() not in {"content-length"}),
    )


@pytest.fixture
def plain_accounts(db):
    """The accounts of ``accounts``, with the settings left as they are (real backend, no rate limits)."""
    verified = User(username="known", email="known@example.com", email_verified_at="2026-01-01T00:00Z")
    verified.set_password(PASSWORD)
    verified.save()
    unverified = User(username="pending", email="pending@example.com", is_active=False)
    unverified.set_password(PASSWORD)
    unverified.save()


@pytest.mark.parametrize("path", ["/auth/forgot-password/", "/auth/resend-verification/"])
def test_same_answer_for_every_address(plain_accounts, path):
    answers = {
        answer(path, a)[:4] == answer(path, "nobody@example.com")[:4]
        for a in ("known@example.com", "pending@example.com", "KNOWN@example.com")
    }
    assert answers == {True}
    assert answer(path, "nobody@example.com")[4] == answer(path, "known@example.com")[4]


def test_emails_only_go_to_accounts_that_exist(plain_accounts):
    Client().post("/auth/forgot-password/", {"email": "nobody@example.com"})
    Client().post("/auth/resend-verification/", {"email": "nobody@example.com"})
    Client().post("/auth/resend-verification/", {"email": "known@example.com"})  # already verified
    assert handle_address_requests() == 3
    assert not Email.objects.exists()
    Client().post("/auth/forgot-password/", {"email": "KNOWN@example.com"})
    Client().post("/auth/resend-verification/", {"email": "pending@example.com"})
    assert handle_address_requests() == 2
    assert sorted(Email.objects.values_list("to", "template")) == [
        ("known@example.com", "accounts/email/password_reset"),
        ("pending@example.com", "accounts/email/verification"),
    ]


# --- sign-up --------------------------------------------------------------------------


def test_signup_answers_a_taken_and_a_new_address_alike(accounts):
    taken = exchange("/auth/signup/", signup_data("KNOWN@example.com", "newcomer1"), ip="192.0.2.5")
    new = exchange("/auth/signup/", signup_data("fresh@example.com", "newcomer2"), ip="192.0.2.6")
    assert taken == new
    assert taken[0]["status"] == 302 and taken[0]["headers"]["Location"] == "/auth/login/"


def test_signup_does_the_same_work_for_a_taken_and_a_new_address(accounts):
    taken = work("/auth/signup/", signup_data("known@example.com", "newcomer3"), ip="192.0.2.7")
    new = work("/auth/signup/", signup_data("fresh2@example.com", "newcomer4"), ip="192.0.2.8")
    # One password hash on both paths (the taken path hashes too), one email queued
    # (verification or "account exists"), one publish on commit, no email connection.
    assert taken["hashes"] == new["hashes"] == 1
    assert taken["enqueue"] == new["enqueue"] == 1
    assert taken["on_commit"] == new["on_commit"] == 1
    # Both paths write the same rows (a pending user and its token): the same queries.
    assert new["queries"] == taken["queries"]


# --- login ----------------------------------------------------------------------------


WRONG = "not-the-password-2082"


@pytest.mark.parametrize("known", ["known", "pending", "KNOWN"])
def test_login_answers_a_known_and_an_unknown_username_alike(accounts, known):
    # The form shows the username back: mask it, the rest must be byte for byte the same.
    known_chain = exchange("/auth/login/", {"username": known, "password": WRONG}, ip="192.0.2.9", mask=known)
    unknown_chain = exchange("/auth/login/", {"username": "nobody", "password": WRONG}, ip="192.0.2.10", mask="nobody")
    assert known_chain == unknown_chain
    assert known_chain[0]["status"] == 200 and b"Please enter a correct username and password" in known_chain[0]["body"]


@pytest.mark.parametrize("known", ["known", "pending"])
def test_login_does_the_same_work_for_a_known_and_an_unknown_username(accounts, known):
    known_work = work("/auth/login/", {"username": known, "password": WRONG}, ip="192.0.2.11")
    unknown_work = work("/auth/login/", {"username": "nobody", "password": WRONG}, ip="192.0.2.12")
    assert known_work == unknown_work
    # Exactly one hash: an unverified account is not checked a second time for its message.
    assert known_work["hashes"] == 1


def test_the_verify_first_message_needs_the_password_and_costs_no_second_hash(accounts):
    counts = work("/auth/login/", {"username": "pending", "password": PASSWORD}, ip="192.0.2.13")
    assert counts["hashes"] == 1
    response = Client().post("/auth/login/", {"username": "pending", "password": PASSWORD})
    assert b"Please verify your email address first." in response.content
    assert not response.wsgi_request.user.is_authenticated
    # An inactive account is never a session, even if something logged it in.
    client = Client()
    client.force_login(User.objects.get(username="pending"))
    assert not client.get("/").wsgi_request.user.is_authenticated


# --- What a sign-up leaves behind -----------------------------------------------------


def probe(address: str, username: str) -> dict:
    """The attack: sign up ``username`` with ``address``, then look at what that left behind.

    What whoever made the sign-up can see afterwards: the login page's answer for
    the username and password just chosen, whether the username is now taken, and
    what a second sign-up with it answers. Usernames are masked (they differ).
    """
    client = Client(REMOTE_ADDR="192.0.2.40")
    client.post("/auth/signup/", signup_data(address, username))
    login = exchange("/auth/login/", {"username": username, "password": PASSWORD}, ip="192.0.2.41", mask=username)
    again = Client(REMOTE_ADDR="192.0.2.42").post("/auth/signup/", signup_data("other@example.net", username))
    return {
        "login": login,
        "username_taken_again": again.status_code == 200 and b"already exists" in again.content,
        "signup_again": snapshot(again, mask=username),
    }


@pytest.mark.parametrize("victim", ["known@example.com", "KNOWN@Example.com"])
def test_a_signup_leaves_the_same_traces_for_a_taken_and_a_free_address(accounts, victim):
    taken = probe(victim, "probe1")
    free = probe("fresh@example.com", "probe2")
    assert taken["login"] == free["login"]
    # Both say what the SPEC says for an unverified account: verify first.
    assert b"Please verify your email address first." in taken["login"][0]["body"]
    assert taken["username_taken_again"] and free["username_taken_again"]
    assert taken["signup_again"] == free["signup_again"]
    # The owner of the taken address is told; the free address gets its link.
    assert sorted(Email.objects.values_list("to", "template")) == [
        ("fresh@example.com", "accounts/email/verification"),
        ("known@example.com", "accounts/email/account_exists"),
    ]


def test_a_probe_of_a_taken_address_can_never_be_verified_and_squats_nothing(accounts):
    """The taken path's pending sign-up holds its username only: no link reaches it, the owner keeps the address."""
    Client().post("/auth/signup/", signup_data("known@example.com", "probe3"))
    probe_user = User.objects.get(username="probe3")
    assert not probe_user.is_active and not probe_user.email_verified
    # Resend for the address: it is held by the owner, so the probe gets no link.
    Client().post("/auth/resend-verification/", {"email": "known@example.com"})
    handle_address_requests()
    assert not Email.objects.filter(template="accounts/email/verification").exists()
    # A reset for the address goes to the owner's account, not the probe's.
    Client().post("/auth/forgot-password/", {"email": "known@example.com"})
    handle_address_requests()
    reset = Email.objects.get(template="accounts/email/password_reset")
    assert reset.context["username"] == "known"
