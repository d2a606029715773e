"""The registration wizard through the HTTP client, on PostgreSQL; emails through the worker to SES."""

import pytest
from django.db import transaction
from django.test import Client

from candidates import services
from candidates.models import Candidate
from mailer.models import Email
from tests.support.accounts import wait_all_final
from tests.support.candidates import (
    STEP_DATA,
    complete_wizard,
    logged_in,
    make_user,
    png,
    step1,
    step2,
    step3,
    step_url,
    years_ago,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def errors_of(response) -> dict:
    assert response.status_code == 200, response.status_code  # a form error, never a 500 or a redirect
    return response.context["form"].errors


# --- Access -----------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in():
    response = Client().get("/candidates/register/")
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/?next=")


def test_an_unverified_user_is_turned_away():
    client = logged_in(make_user(verified=False))
    for url in ("/candidates/register/", step_url(1), "/candidates/dashboard/"):
        response = client.get(url)
        assert response.status_code == 403
        assert b"Verify your email address first" in response.content
    response = client.post(step_url(1), step1())
    assert response.status_code == 403 and not Candidate.objects.exists()


def test_no_skipping_ahead():
    client = logged_in(make_user())
    assert client.get(step_url(3))["Location"] == step_url(1)
    client.post(step_url(1), step1())
    assert client.get(step_url(4))["Location"] == step_url(2)


# --- Each step validates on the server -------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (step1(full_name_en=""), "full_name_en"),
        (step1(full_name_ne="Hari Thapa"), "full_name_ne"),  # not Devanagari
        (step1(full_name_en="Hari\r\nBcc: x@example.com"), "full_name_en"),
        (step1(full_name_en="H" * 121), "full_name_en"),
        (step1(date_of_birth=""), "date_of_birth"),
        (step1(date_of_birth="2090-01-01"), "date_of_birth"),
        (step1(date_of_birth="not a date"), "date_of_birth"),
        (step1(phone="12345"), "phone"),
    ],
)
def test_step1_errors(data, field):
    client = logged_in(make_user())
    assert field in errors_of(client.post(step_url(1), data))
    assert Candidate.objects.get().step == 0  # nothing saved


def test_a_file_that_is_not_an_image_is_a_form_error(media):
    client = logged_in(make_user())
    fake = png(name="cv.png")
    fake.file.write(b"not really")  # a broken PNG
    fake.file.seek(0)
    from django.core.files.uploadedfile import SimpleUploadedFile

    for upload in (
        SimpleUploadedFile("cv.pdf", b"%PDF-1.4 ...", content_type="application/pdf"),
        SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png"),
    ):
        assert "photo" in errors_of(client.post(step_url(1), {**step1(), "photo": upload}))
    assert not any(media.rglob("*")) if media.exists() else True


def test_an_oversize_photo_is_a_form_error(media, settings):
    settings.CANDIDATES_PHOTO_MAX_BYTES = 1024
    client = logged_in(make_user())
    errors = errors_of(client.post(step_url(1), {**step1(), "photo": png((400, 400))}))
    assert "the limit is 1.0\xa0KB" in errors["photo"][0]


def test_a_photo_is_kept(media):
    client = logged_in(make_user())
    assert client.post(step_url(1), {**step1(), "photo": png()}).status_code == 302
    candidate = Candidate.objects.get()
    assert candidate.photo.name.startswith("candidates/photos/") and (media / candidate.photo.name).exists()
    # Saving step 1 again without a new file keeps it.
    assert client.post(step_url(1), step1()).status_code == 302
    candidate.refresh_from_db()
    assert candidate.photo


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (step2(level=""), "level", "required"),
        (step2(province="8"), "province", "valid choice"),
        (step2(district="atlantis"), "district", "valid choice"),
        (step2(district="jhapa"), "district", "Jhapa is not in Bagmati Province."),
        (step2(constituency="11"), "constituency", "constituencies 1 to 10"),
        (step2(constituency=""), "constituency", "Enter the constituency number"),
        (step2(level="provincial", constituency="21"), "constituency", "constituencies 1 to 20"),
        (step2(level="mayor", constituency=""), "municipality", "Enter the municipality"),
        (step2(level="ward_member", municipality="Kirtipur", ward="34"), "ward", "1 to 33"),
        (step2(level="ward_member", municipality="Kirtipur", ward="0"), "ward", "1 to 33"),
        (step2(level="ward_chair", municipality="Kirtipur", ward=""), "ward", "Enter the ward number"),
    ],
)
def test_step2_errors(data, field, message):
    client = logged_in(make_user())
    client.post(step_url(1), step1())
    errors = errors_of(client.post(step_url(2), data))
    assert message in " ".join(errors[field])
    assert Candidate.objects.get().step == 1


@pytest.mark.parametrize(
    ("level", "age", "ok"),
    [
        ("federal", 24, False),
        ("federal", 25, True),
        ("provincial", 24, False),
        ("mayor", 20, False),
        ("mayor", 21, True),
        ("ward_member", 21, True),
    ],
)
def test_minimum_age_for_the_level(level, age, ok):
    client = logged_in(make_user())
    # One day short of the birthday, or exactly on it.
    born = years_ago(age + (0 if ok else 1), days=0 if ok else 1)
    assert client.post(step_url(1), step1(date_of_birth=born.isoformat())).status_code == 302
    data = step2(level=level, municipality="Kirtipur", ward="5", constituency="3")
    response = client.post(step_url(2), data)
    if ok:
        assert response.status_code == 302
    else:
        assert "must be at least" in " ".join(errors_of(response)["level"])


def test_a_birth_date_changed_later_must_still_fit_the_level():
    client = logged_in(make_user())
    complete_wizard(client, submit=False)
    errors = errors_of(client.post(step_url(1), step1(date_of_birth=years_ago(22).isoformat())))
    assert "must be at least 25" in errors["date_of_birth"][0]


def test_a_changed_level_clears_what_it_does_not_use():
    client = logged_in(make_user())
    client.post(step_url(1), step1())
    client.post(step_url(2), step2(level="ward_member", municipality="Kirtipur", ward="5", constituency="3"))
    candidate = Candidate.objects.get()
    assert (candidate.constituency, candidate.municipality, candidate.ward) == (None, "Kirtipur", 5)
    client.post(step_url(2), step2(municipality="Kirtipur", ward="5"))
    candidate.refresh_from_db()
    assert (candidate.constituency, candidate.municipality, candidate.ward) == (4, "", None)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (step3(party=""), "party"),
        (step3(party="not-a-party"), "party"),
        (step3(biography_en=""), "biography_en"),
        (step3(manifesto_ne="म" * 5001), "manifesto_ne"),
        (step3(biography_en="x" * 3001), "biography_en"),
        (step3(education="x" * 2001), "education"),
    ],
)
def test_step3_errors(data, field):
    client = logged_in(make_user())
    client.post(step_url(1), step1())
    client.post(step_url(2), step2())
    assert field in errors_of(client.post(step_url(3), data))


def test_step4_needs_the_declaration():
    client = logged_in(make_user())
    complete_wizard(client, submit=False)
    assert "declaration" in errors_of(client.post(step_url(4), {}))
    assert Candidate.objects.get().status == Candidate.Status.DRAFT


def test_the_district_select_works_without_javascript():
    client = logged_in(make_user())
    client.post(step_url(1), step1())
    html = client.get(step_url(2)).content.decode()
    assert html.count("<optgroup") == 7 and html.count('data-province="') == 7
    assert 'data-province="3"' in html and 'value="kathmandu"' in html
    assert html.count('<option value="') >= 77 + 7  # every district, every province
    assert "candidates/district-filter.js" in html and " defer" in html


# --- Drafts ----------------------------------------------------------------------------


def test_the_draft_survives_logout_and_back_keeps_what_was_entered():
    user = make_user()
    client = logged_in(user)
    client.post(step_url(1), step1())
    client.post(step_url(2), step2())
    client.post("/auth/logout/")
    client = logged_in(user)
    assert client.get("/candidates/register/")["Location"] == step_url(3)  # resumes
    page = client.get(step_url(2)).content.decode()  # going back
    assert 'value="kathmandu" selected' in page and 'name="constituency" value="4"' in page
    page = client.get(step_url(1)).content.decode()
    assert 'value="हरि बहादुर थापा"' in page


# --- Submission ------------------------------------------------------------------------


def test_submission_sends_the_confirmation_and_one_email_per_staff_user(e2e, ses):
    staff = [make_user("admin1", staff=True), make_user("admin2", staff=True, language="ne")]
    make_user("inactive_admin", staff=True, is_active=False)
    candidate_user = make_user("hari", language="ne")
    client = logged_in(candidate_user)
    response = complete_wizard(client)
    assert response.status_code == 302 and response["Location"] == "/candidates/dashboard/"
    candidate = Candidate.objects.get()
    assert candidate.status == Candidate.Status.PENDING and candidate.submitted_at and candidate.declared_at
    wait_all_final()
    sent = {m["To"]: m for m in ses.sent()}
    assert sorted(sent) == ["admin1@example.com", "admin2@example.com", "hari@example.com"]
    confirmation = sent["hari@example.com"]
    assert confirmation["Subject"].strip() == "[ElectNepal] तपाईंको उम्मेदवार विवरण पेस भयो"
    text = confirmation.get_body(("plain",)).get_content()
    assert "काठमाडौंको प्रतिनिधि सभा सदस्य पदका लागि" in text
    notice = sent["admin1@example.com"]
    assert notice["Subject"].strip() == "[ElectNepal] New candidate profile: Hari Bahadur Thapa"
    admin_link = f"https://electnepal.test/admin/candidates/candidate/{candidate.pk}/change/"
    assert admin_link in notice.get_body(("plain",)).get_content()
    assert admin_link in notice.get_body(("html",)).get_content()
    assert staff[1].email in sent and "नयाँ उम्मेदवार विवरण" in sent[staff[1].email]["Subject"]

    # Submitting again (a double click, a second tab) sends nothing more.
    again = client.post(step_url(4), {"declaration": "on"})
    assert again.status_code == 302
    assert services.candidate_submit(candidate_id=candidate.pk) is False
    assert Email.objects.count() == 3


def test_a_submission_rolled_back_sends_nothing(e2e, ses):
    make_user("admin1", staff=True)
    client = logged_in(make_user())
    complete_wizard(client, submit=False)
    candidate = Candidate.objects.get()

    def submit_then_fail():
        with transaction.atomic():
            assert services.candidate_submit(candidate_id=candidate.pk) is True
            raise RuntimeError("the request failed after the submission")

    with pytest.raises(RuntimeError, match="the request failed"):
        submit_then_fail()
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.DRAFT and not Email.objects.exists()
    # The same submission, committed this time, goes out: the queue was not blocked.
    assert services.candidate_submit(candidate_id=candidate.pk) is True
    wait_all_final()
    assert sorted(m["To"] for m in ses.sent()) == ["admin1@example.com", "hari@example.com"]


def test_an_incomplete_profile_cannot_be_submitted():
    user = make_user()
    client = logged_in(user)
    client.post(step_url(1), step1())
    client.post(step_url(2), step2())
    client.post(step_url(3), step3())
    # The level changed behind the wizard's back (an old tab): step 2 is no longer valid.
    Candidate.objects.update(constituency=None)
    response = client.post(step_url(4), {"declaration": "on"})
    assert "Please complete step 2" in str(errors_of(response))
    assert Candidate.objects.get().status == Candidate.Status.DRAFT and not Email.objects.exists()


def test_dashboard_and_edit_after_submission():
    client = logged_in(make_user())
    assert b"not started a candidate registration" in client.get("/candidates/dashboard/").content
    complete_wizard(client)
    page = client.get("/candidates/dashboard/").content.decode()
    assert "Pending review" in page and "Edit your profile" in page
    # An edit withdraws the profile from review until it is submitted again.
    assert client.post(step_url(3), step3(manifesto_en="Roads too.")).status_code == 302
    candidate = Candidate.objects.get()
    assert candidate.status == Candidate.Status.DRAFT and candidate.manifesto_en == "Roads too."
    assert client.post(step_url(4), {"declaration": "on"}).status_code == 302
    assert Candidate.objects.get().status == Candidate.Status.PENDING


def test_every_step_page_renders():
    client = logged_in(make_user())
    for step, data in STEP_DATA.items():
        assert client.get(step_url(step)).status_code == 200
        client.post(step_url(step), data())
    page = client.get(step_url(4))
    assert page.status_code == 200 and b"Hari Bahadur Thapa" in page.content and b"9841234567" in page.content
