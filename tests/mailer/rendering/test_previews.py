"""/mailer/preview/: staff see every kind × language, rendered exactly as the worker renders it."""

import pytest
from django.db import transaction

from accounts.models import User
from mailer import api as mail
from mailer.outbox.message import build_message
from mailer.rendering import previews, samples
from tests.support.mfa import staff_login

INDEX = "/mailer/preview/"


@pytest.fixture
def staff(client, db):
    staff_login(client, User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082"))
    return client


def test_index_lists_every_kind_in_each_of_its_languages(staff):
    html = staff.get(INDEX).content.decode()
    for kind in samples.kinds():
        for language in samples.languages_of(kind):
            assert f'href="/mailer/preview/{kind}/{language}/"' in html
    assert "/mailer/preview/mailer/email/alert/ne/" not in html  # an operators' email, in English only


def test_detail_shows_subject_text_and_a_sandboxed_iframe(staff):
    page = staff.get("/mailer/preview/accounts/email/verification/ne/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "इमेल ठेगाना पुष्टि गर्नुहोस्" in html  # subject / text
    assert (
        '<iframe id="html-part" title="HTML part" sandbox src="/mailer/preview/accounts/email/verification/ne/html/"'
        in html
    )


def test_the_html_is_the_workers_own_rendering(staff, settings):
    response = staff.get("/mailer/preview/accounts/email/welcome/en/html/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == previews.EMAIL_CSP
    assert "script-src" not in response["Content-Security-Policy"]  # default-src 'none': no scripts at all
    # The same email queued and built by the worker's code gives the same HTML.
    with transaction.atomic():
        (email,) = mail.enqueue(
            template="accounts/email/welcome",
            to="sita@example.com",
            context=samples.sample_context("accounts/email/welcome", "en"),
        )
    message = build_message(email)
    assert response.content.decode() == message.alternatives[0][0]


@pytest.mark.parametrize(
    "path",
    [
        "/mailer/preview/accounts/email/nothing/en/",
        "/mailer/preview/accounts/email/welcome/fr/",
        "/mailer/preview/mailer/email/alert/ne/",
        "/mailer/preview/../../etc/passwd/en/html/",
    ],
)
def test_unknown_previews_are_404(staff, path):
    assert staff.get(path).status_code == 404


@pytest.mark.parametrize(
    "path", [INDEX, "/mailer/preview/accounts/email/welcome/en/", "/mailer/preview/accounts/email/welcome/en/html/"]
)
def test_staff_only(client, db, path):
    assert client.get(path).status_code == 302
    client.force_login(User.objects.create_user("voter", "voter@example.com", "voter-pass-2082"))
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("path", [INDEX, "/mailer/preview/accounts/email/welcome/en/html/"])
def test_staff_without_the_second_factor_go_and_pass_it_first(client, db, path):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082"))
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/auth/two-factor/setup/")
