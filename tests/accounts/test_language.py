"""The site's language: the switch (POST /i18n/setlang/), preferred_language at login, flash messages.

Django keeps the chosen language in its language cookie (LANGUAGE_COOKIE_NAME), where
LocaleMiddleware looks first; the switch is a plain form on every page.
"""

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from tests.support.accounts import messages_of, signup_data
from tests.support.candidates import PASSWORD, logged_in, make_user

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


def switch(client: Client, language: str, next_url: str = "/auth/login/"):
    return client.post("/i18n/setlang/", {"language": language, "next": next_url})


def test_every_page_has_a_switch_to_the_other_language_that_needs_no_javascript():
    client = Client()
    page = client.get("/auth/login/").content.decode()
    assert '<html lang="en">' in page
    assert 'action="/i18n/setlang/"' in page and 'name="next" value="/auth/login/"' in page
    assert '<button type="submit" name="language" value="ne" lang="ne">नेपाली</button>' in page
    assert "<script" not in page
    client.cookies[COOKIE] = "ne"
    page = client.get("/auth/login/?next=/candidates/dashboard/").content.decode()
    assert '<html lang="ne">' in page
    assert '<button type="submit" name="language" value="en" lang="en">English</button>' in page
    assert 'name="next" value="/auth/login/?next=/candidates/dashboard/"' in page


def test_an_anonymous_switch_sets_the_cookie_and_returns_to_the_page():
    client = Client()
    response = switch(client, "ne", "/auth/forgot-password/")
    assert response.status_code == 302 and response["Location"] == "/auth/forgot-password/"
    assert response.cookies[COOKIE].value == "ne"
    assert response.cookies[COOKIE]["httponly"] and response.cookies[COOKIE]["max-age"] == settings.LANGUAGE_COOKIE_AGE
    page = client.get("/auth/forgot-password/").content.decode()
    assert '<html lang="ne">' in page and "पासवर्ड बिर्सनुभयो?" in page


def test_a_logged_in_switch_becomes_her_preferred_language():
    user = make_user("sita", language="en")
    client = logged_in(user)
    switch(client, "ne")
    user.refresh_from_db()
    assert user.preferred_language == "ne"
    switch(client, "en")
    user.refresh_from_db()
    assert user.preferred_language == "en"


def test_a_language_the_site_does_not_speak_changes_nothing():
    user = make_user("sita", language="ne")
    client = logged_in(user)
    client.cookies[COOKIE] = "ne"
    response = switch(client, "fr")
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.preferred_language == "ne"
    # Django may keep "fr" in its cookie (it has a French catalogue); the site is not in LANGUAGES for it.
    assert '<html lang="en">' in client.get("/candidates/dashboard/").content.decode()


def test_the_switch_takes_posts_only_and_an_outside_next_is_not_followed():
    client = Client()
    assert client.get("/i18n/setlang/?language=ne").status_code == 405
    response = switch(client, "ne", "https://evil.example/")
    assert response["Location"] == "/"


def test_login_applies_her_preferred_language():
    make_user("sita", language="ne")
    client = Client()
    client.cookies[COOKIE] = "en"  # she browsed in English before logging in
    response = client.post("/auth/login/", {"username": "sita", "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "ne"
    page = client.get("/candidates/dashboard/").content.decode()
    assert '<html lang="ne">' in page and "तपाईंको उम्मेदवारी" in page


def test_a_failed_login_leaves_the_language_alone():
    make_user("sita", language="ne")
    client = Client()
    response = client.post("/auth/login/", {"username": "sita", "password": "wrong"})
    assert response.status_code == 200 and COOKIE not in response.cookies


def test_flash_messages_are_in_the_language_of_the_request():
    """Module-level texts of accounts.views must be lazy: translated when shown, not when imported."""
    client = Client()
    client.cookies[COOKIE] = "ne"
    response = client.post("/auth/signup/", signup_data(), follow=True)
    assert messages_of(response) == ["धन्यवाद। आफ्नो इमेल हेर्नुहोस्: अगाडि बढ्न हामीले तपाईंलाई एउटा लिङ्क पठाएका छौँ।"]
    response = client.post("/auth/forgot-password/", {"email": "sita@example.com"}, follow=True)
    assert "त्यो ठेगाना कुनै खातासँग जोडिएको भए" in messages_of(response)[0]
    english = Client()
    response = english.post("/auth/forgot-password/", {"email": "sita@example.com"}, follow=True)
    assert messages_of(response)[0].startswith("If that address belongs to an account")
    assert User.objects.filter(username="sita").exists()
