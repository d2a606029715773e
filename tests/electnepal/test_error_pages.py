"""The error pages: the site's layout, in the reader's language, with the language switch."""

import pytest
from django.test import Client, RequestFactory
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from electnepal import views

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = "tests.support.site_pages"  # has /boom/, a page that raises


@pytest.mark.parametrize(
    ("path", "status", "english", "nepali"),
    [
        ("/no-such-page/", 404, "Page not found", "पृष्ठ भेटिएन"),
        ("/boom/", 500, "Something went wrong", "केही गडबड भयो"),
    ],
)
def test_error_pages_in_both_languages(failing_urls, settings, path, status, english, nepali):
    client = Client(raise_request_exception=False)
    page = client.get(path)
    assert page.status_code == status and english in page.content.decode()
    assert 'action="/i18n/setlang/"' in page.content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ne"
    page = client.get(path).content.decode()
    assert nepali in page and '<html lang="ne">' in page and english not in page


def test_a_500_page_that_cannot_be_drawn_falls_back_to_plain_text():
    """When the page itself fails (here: the user cannot be loaded, as with the database down)."""
    request = RequestFactory().get("/anything/")
    request.user = SimpleLazyObject(lambda: 1 / 0)
    with translation.override("ne"):
        response = views.server_error(request)
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and "केही गडबड भयो" in body


def test_a_form_posted_without_its_csrf_token_gets_the_sites_403(settings):
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ne"
    response = client.post("/auth/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "फारमको म्याद सकियो" in response.content.decode()
