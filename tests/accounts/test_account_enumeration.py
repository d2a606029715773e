"""No account enumeration through the email-change form, as for sign-up (tests/accounts/test_enumeration.py).

A logged-in user who asks to move her account to an address that has an account,
and one who asks for a free address, get the same full response (status,
redirect, headers, cookie names, body without its CSRF token) and the same page
after the redirect; the request does the same work, but for the one INSERT of
the link's token (the taken address gets no link): one password check, one
email queued (the link, or the owner's notice), one publish on commit, no
email connection.
"""

import pytest
from django.test import Client

from accounts.models import EmailChange, User
from mailer.models import Email
from tests.support.candidates import PASSWORD, make_user
from tests.support.enumeration import counted, snapshot

PATH = "/auth/email-change/"
# A pending sign-up holds no address (accounts.models.HOLDS_ADDRESS): its address is free.
TAKEN = ["known@example.com", "KNOWN@Example.com"]


@pytest.fixture
def requester(db, settings):
    settings.EMAIL_BACKEND = "tests.support.enumeration.NoEmailInRequests"
    settings.RATELIMIT_ENABLE = True  # the limits' own work is part of each request
    make_user("known")
    make_user("pending", verified=False, is_active=False)
    return make_user("sita")


def session(user: User, ip: str) -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.force_login(user)
    client.get(PATH)  # the form first, as a person loads it
    return client


def exchange(user: User, address: str, *, ip: str) -> list[dict]:
    client = session(user, ip)
    response = client.post(PATH, {"email": address, "password": PASSWORD})
    chain = [snapshot(response)]
    while response.status_code in (301, 302):
        response = client.get(response["Location"])
        chain.append(snapshot(response))
    return chain


def work(user: User, address: str, *, ip: str) -> dict:
    client = session(user, ip)
    with counted() as counts:
        response = client.post(PATH, {"email": address, "password": PASSWORD})
    assert response.status_code == 302
    return counts


@pytest.mark.parametrize("taken", TAKEN)
def test_a_taken_and_a_free_address_get_the_same_answer(requester, taken):
    taken_chain = exchange(requester, taken, ip="192.0.2.21")
    free_chain = exchange(requester, "fresh@example.com", ip="192.0.2.22")
    assert taken_chain == free_chain
    assert taken_chain[0]["status"] == 302 and taken_chain[0]["headers"]["Location"] == "/auth/account/"
    assert b"Check the inbox of the new address" in taken_chain[1]["body"]


@pytest.mark.parametrize("taken", TAKEN)
def test_a_taken_and_a_free_address_cost_the_same_work(requester, taken):
    taken_work = work(requester, taken, ip="192.0.2.23")
    free_work = work(requester, "fresh@example.com", ip="192.0.2.24")
    assert taken_work["hashes"] == free_work["hashes"] == 1  # the password check
    assert taken_work["enqueue"] == free_work["enqueue"] == 1
    assert taken_work["on_commit"] == free_work["on_commit"] == 1
    # The free address's link token is the one INSERT more, in the same transaction.
    assert free_work["queries"] - taken_work["queries"] == 1


def test_the_emails_go_where_they_should(requester):
    for address in ("KNOWN@example.com", "fresh@example.com", "pending@example.com"):
        session(requester, "192.0.2.25").post(PATH, {"email": address, "password": PASSWORD})
    assert sorted(Email.objects.values_list("to", "template")) == [
        ("fresh@example.com", "accounts/email/email_change_confirmation"),
        ("known@example.com", "accounts/email/email_change_taken"),
        # A pending sign-up's address is free: the link goes there, and whoever signed up is told nothing.
        ("pending@example.com", "accounts/email/email_change_confirmation"),
    ]
    # Each request kills the requester's earlier ones: only the last link is live.
    assert list(EmailChange.objects.filter(used_at__isnull=True).values_list("new_email", flat=True)) == [
        "pending@example.com"
    ]
