"""Addresses have one canonical form (accounts.addresses): look-alikes are folded or refused, the same everywhere.

Against PostgreSQL, whose UPPER() (``__iexact``) folds ``ı`` (U+0131) and ``ſ``
(U+017F) onto ``I`` and ``S`` while LOWER() (the unique indexes) does not: forms,
services, lookups and rate-limit keys must all agree on which account an address is.
"""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from accounts.addresses import address_key, address_normalize
from accounts.models import AddressRequest, User
from mailer.models import Email
from tests.support.accounts import PASSWORD, handle_address_requests, signup

DOTLESS_I = "\u0131"  # ı, UPPER() → I
LONG_S = "\u017f"  # ſ, UPPER() → S, NFKC → s
KELVIN = "\u212a"  # K, LOWER() → k, NFKC → K
DOTTED_I = "\u0130"  # İ, LOWER() → i̇
CYRILLIC_A = "\u0430"  # а


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Sita@Example.COM", "sita@example.com"),
        ("  sita@example.com ", "sita@example.com"),
        (f"{LONG_S}ita@example.com", "sita@example.com"),
        (f"{KELVIN}athmandu@example.com", "kathmandu@example.com"),
        ("ｓｉｔａ@example.com", "sita@example.com"),  # full-width letters
        ("sita@EXAMPLE.com", "sita@example.com"),
        ("sita@नेपाल.example", "sita@xn--l2bey1c2b.example"),  # an IDN domain, in its ASCII form
    ],
)
def test_look_alikes_that_fold_are_folded(typed, canonical):
    assert address_normalize(typed) == canonical
    assert address_normalize(canonical) == canonical  # idempotent
    assert address_key(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [f"v{DOTLESS_I}ctim@example.com", f"{DOTTED_I}nfo@example.com", f"p{CYRILLIC_A}ul@example.com", "सीता@example.com"],
)
def test_look_alikes_that_do_not_fold_are_refused(typed):
    with pytest.raises(ValidationError) as error:
        address_normalize(typed)
    assert error.value.code == "look_alike"


@pytest.fixture
def victim(db):
    user = User(username="kisan", email="kisan@example.com", email_verified_at=timezone.now())
    user.set_password(PASSWORD)
    user.save()
    return user


# The victim's address in spellings that fold onto it, and one that must not.
FOLDED = ["KISAN@Example.com", f"ki{LONG_S}an@example.com", f"{KELVIN}isan@example.com"]
LOOK_ALIKE = f"k{DOTLESS_I}san@example.com"


def test_lookups_go_through_the_unique_index_expression(victim):
    # A row written before normalisation, in mixed case, is found like any other.
    User.objects.filter(pk=victim.pk).update(email="Kisan@Example.com")
    for spelling in FOLDED:
        assert list(User.objects.with_address(spelling)) == [victim]
    # UPPER() folds ı onto I and matches; LOWER(), the index's expression, does not.
    assert User.objects.filter(email__iexact=LOOK_ALIKE).exists()
    assert not User.objects.with_address(LOOK_ALIKE).exists()


def test_a_look_alike_cannot_squat_an_address_before_its_owner(db):
    """Registered first, ``kısan@…`` was stored as typed and answered for ``kisan@…`` (UPPER folds ı)."""
    squat = signup(Client(), username="squatter", email=LOOK_ALIKE)
    assert squat.status_code == 200 and "look-alike" in squat.content.decode()
    assert not User.objects.exists() and not Email.objects.exists()
    # The owner signs up afterwards and gets the verification link, not "account exists".
    assert signup(Client(), username="kisan", email="kisan@example.com").status_code == 302
    assert list(Email.objects.values_list("to", "template")) == [("kisan@example.com", "accounts/email/verification")]


@pytest.mark.parametrize("path", ["/auth/forgot-password/", "/auth/resend-verification/"])
def test_a_refused_look_alike_reaches_no_account(victim, path):
    response = Client().post(path, {"email": LOOK_ALIKE})
    assert response.status_code == 200 and "look-alike" in response.content.decode()
    assert not AddressRequest.objects.exists()


def test_folded_spellings_are_one_address_for_signup_and_its_rate_limit(victim, limits_on):
    limits_on.RATELIMIT_EMAIL_FORM_ADDRESS = "2/h"
    codes = [
        signup(Client(REMOTE_ADDR=f"198.51.100.{i}"), username=f"probe{i}", email=address).status_code
        for i, address in enumerate(FOLDED)
    ]
    # One allowance for the address, however it is spelled; each sign-up that got
    # through is about the victim's address, whose owner is told.
    assert codes == [302, 302, 429]
    assert (
        list(Email.objects.values_list("to", "template"))
        == [("kisan@example.com", "accounts/email/account_exists")] * 2
    )
    assert set(User.objects.values_list("email", flat=True)) == {"kisan@example.com"}


def test_forgot_password_keys_and_resolves_folded_spellings_as_one_address(victim, limits_on):
    limits_on.RATELIMIT_EMAIL_FORM_ADDRESS = "2/h"
    codes = [
        Client(REMOTE_ADDR=f"198.51.100.{i}").post("/auth/forgot-password/", {"email": address}).status_code
        for i, address in enumerate(FOLDED)
    ]
    assert codes == [302, 302, 429]
    assert sorted(AddressRequest.objects.values_list("email", flat=True)) == ["kisan@example.com"] * 2
    assert handle_address_requests() == 2
    assert set(Email.objects.values_list("to", flat=True)) == {"kisan@example.com"}


def test_usernames_are_looked_up_through_the_index_expression_too(db):
    user = User(username="liam", email="liam@example.com", email_verified_at=timezone.now())
    user.set_password(PASSWORD)
    user.save()
    # UPPER('lıam') = 'LIAM': with __iexact, a look-alike name logged into liam's
    # account while its failures counted against another name.
    look_alike = Client().post("/auth/login/", {"username": f"l{DOTLESS_I}am", "password": PASSWORD})
    assert look_alike.status_code == 200 and not look_alike.wsgi_request.user.is_authenticated
    assert Client().post("/auth/login/", {"username": "LIAM", "password": PASSWORD}).status_code == 302
    # A sign-up cannot take the name in a spelling that NFKC folds onto it.
    taken = signup(Client(), username=f"li{chr(0xFF41)}m", email="other@example.com")  # full-width a
    assert taken.status_code == 200 and b"already exists" in taken.content
