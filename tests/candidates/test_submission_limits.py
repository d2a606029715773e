"""What one user can make the site email: submissions a day per profile, rate limits, the reviewers' digest."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from candidates import models, services
from candidates.models import Candidate
from mailer.models import Email
from tests.support.accounts import wait_all_final
from tests.support.candidates import complete_wizard, logged_in, make_user, step3, step_url
from tests.support.waits import wait_for

NOTIFICATION = "candidates/email/admin_notification"
DIGEST = "candidates/email/staff_digest"
CONFIRMATION = "candidates/email/registration_confirmation"


def emails(template: str) -> list[Email]:
    return list(Email.objects.filter(template=template).order_by("pk"))


def end_the_window(settings):
    """The reviewers' window, shortened to a second: the next digest may go as soon as it is over."""
    settings.CANDIDATES_STAFF_DIGEST_SECONDS = 1


# --- Submissions per profile per day ------------------------------------------------------------


@pytest.mark.django_db
def test_a_profile_is_submitted_at_most_n_times_a_day_then_a_clear_message(settings):
    settings.CANDIDATES_SUBMISSIONS_PER_DAY = 3
    make_user("admin1", staff=True)
    client = logged_in(make_user())
    complete_wizard(client)
    for _ in range(2):  # edit (back to draft) and submit again: allowed twice more
        client.post(step_url(3), step3(biography_en="Edited."))
        assert client.post(step_url(4), {"declaration": "on"}).status_code == 302
    assert len(emails(CONFIRMATION)) == 3
    before = Email.objects.count()

    client.post(step_url(3), step3(biography_en="Edited once more."))
    response = client.post(step_url(4), {"declaration": "on"})
    assert response.status_code == 200  # the review page again, with the reason: no 500, no redirect
    (error,) = response.context["form"].non_field_errors()
    assert error.startswith("You have submitted your profile 3 times in 24 hours, the most we accept.")
    assert "you can submit it again after" in error
    candidate = Candidate.objects.get()
    assert candidate.status == Candidate.Status.DRAFT and candidate.biography_en == "Edited once more."
    assert Email.objects.count() == before and models.Submission.objects.count() == 3


@pytest.mark.django_db
def test_submissions_older_than_a_day_do_not_count(settings):
    settings.CANDIDATES_SUBMISSIONS_PER_DAY = 1
    client = logged_in(make_user())
    complete_wizard(client)
    client.post(step_url(3), step3())
    assert client.post(step_url(4), {"declaration": "on"}).status_code == 200  # the one of today counts
    models.Submission.objects.update(
        submitted_at=models.Submission.objects.get().submitted_at - services.SUBMISSION_WINDOW
    )
    assert client.post(step_url(4), {"declaration": "on"}).status_code == 302


# --- Rate limits on the submitting view -----------------------------------------------------------


@pytest.mark.django_db
def test_the_review_step_is_rate_limited_per_user(settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_CANDIDATE_SUBMIT_USER = "2/h"
    client = logged_in(make_user())
    complete_wizard(client, submit=False)
    for _ in range(2):
        assert client.post(step_url(4), {}).status_code == 200  # no declaration: a form error, counted
    response = client.post(step_url(4), {"declaration": "on"})
    assert response.status_code == 429
    assert Candidate.objects.get().status == Candidate.Status.DRAFT and not Email.objects.exists()
    assert client.get(step_url(4)).status_code == 200  # looking is not limited


@pytest.mark.django_db
def test_the_review_step_is_rate_limited_per_ip(settings):
    settings.RATELIMIT_ENABLE = True
    settings.RATELIMIT_CANDIDATE_SUBMIT_IP = "2/h"
    for name in ("ram", "sita"):
        client = logged_in(make_user(name))
        complete_wizard(client, submit=False)
        assert client.post(step_url(4), {}).status_code == 200
    client = logged_in(make_user("gita"))
    complete_wizard(client, submit=False)
    assert client.post(step_url(4), {"declaration": "on"}).status_code == 429


# --- Reviewers: the first submission at once, the rest in one digest ---------------------------------


@pytest.mark.django_db
def test_a_burst_of_submissions_gives_each_reviewer_one_email_then_one_digest(settings):
    make_user("admin1", staff=True)
    make_user("admin2", staff=True, language="ne")
    for name in ("hari", "gita", "ram", "sita", "maya"):
        complete_wizard(logged_in(make_user(name)))
    # The first submission is announced at once; the other four wait.
    assert [e.to for e in emails(NOTIFICATION)] == ["admin1@example.com", "admin2@example.com"]
    assert emails(NOTIFICATION)[0].context["full_name_en"] == "Hari Bahadur Thapa"
    assert models.Submission.objects.filter(staff_notified_at__isnull=True).count() == 4
    assert services.candidate_staff_digest() == 0 and not emails(DIGEST)  # the window is not over

    end_the_window(settings)
    wait_for(lambda: services.candidate_staff_digest() == 4, message="the digest")
    digests = emails(DIGEST)
    assert [e.to for e in digests] == ["admin1@example.com", "admin2@example.com"]
    assert digests[0].context["count"] == 4 and len(digests[0].context["submissions"]) == 4
    assert not models.Submission.objects.filter(staff_notified_at__isnull=True).exists()
    assert services.candidate_staff_digest() == 0  # nothing waits: nothing is sent
    assert len(emails(NOTIFICATION)) == 2 and len(emails(DIGEST)) == 2  # 4 emails, not 10


@pytest.mark.django_db
def test_the_digest_leaves_out_profiles_no_longer_pending_and_lists_each_once(settings):
    make_user("admin1", staff=True)
    complete_wizard(logged_in(make_user("hari")))  # announced at once
    gita = logged_in(make_user("gita"))
    complete_wizard(gita)
    gita.post(step_url(3), step3())  # edited: back to draft
    gita.post(step_url(4), {"declaration": "on"})  # and submitted again: listed once
    ram = logged_in(make_user("ram"))
    complete_wizard(ram)
    ram.post(step_url(3), step3())  # withdrawn: left out
    complete_wizard(logged_in(make_user("maya")))
    end_the_window(settings)
    wait_for(lambda: services.candidate_staff_digest() == 2, message="the digest")
    (digest,) = emails(DIGEST)
    pks = [Candidate.objects.get(user__username=name).pk for name in ("gita", "maya")]
    assert [s["admin_url"] for s in digest.context["submissions"]] == [
        f"https://electnepal.test/admin/candidates/candidate/{pk}/change/" for pk in pks
    ]
    assert [s["resubmitted"] for s in digest.context["submissions"]] == [False, False]


@pytest.mark.django_db
def test_one_waiting_submission_gets_its_own_notice_and_a_later_submission_takes_the_waiting_along(settings):
    make_user("admin1", staff=True)
    complete_wizard(logged_in(make_user("hari")))  # at once
    complete_wizard(logged_in(make_user("gita")))  # waits
    end_the_window(settings)
    wait_for(lambda: services.candidate_staff_digest() == 1, message="the window to end")
    assert len(emails(NOTIFICATION)) == 2 and not emails(DIGEST)  # one waited: a notice, not a digest of one

    settings.CANDIDATES_STAFF_DIGEST_SECONDS = 600
    complete_wizard(logged_in(make_user("ram")))  # waits (the notice above opened a window)
    complete_wizard(logged_in(make_user("sita")))  # waits
    assert len(emails(NOTIFICATION)) == 2
    end_the_window(settings)
    # No beat needed: the next submission after the window takes the waiting ones along.
    wait_for(
        lambda: (
            not models.Submission.objects.filter(
                staff_emailed=True, staff_notified_at__gt=timezone.now() - timedelta(seconds=1)
            ).exists()
        ),
        message="the window",
    )
    complete_wizard(logged_in(make_user("maya")))
    (digest,) = emails(DIGEST)
    assert digest.context["count"] == 3
    assert not models.Submission.objects.filter(staff_notified_at__isnull=True).exists()


def test_two_submissions_at_the_same_moment_are_not_both_first(transactional_db):
    make_user("admin1", staff=True)
    ids = []
    for name in ("hari", "gita"):
        complete_wizard(logged_in(make_user(name)), submit=False)
        ids.append(Candidate.objects.get(user__username=name).pk)
    start = threading.Barrier(2)

    def submit(pk):
        start.wait()
        try:
            services.candidate_submit(candidate_id=pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(pk,)) for pk in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(emails(NOTIFICATION)) == 1  # one announced, the other waits for the digest
    assert models.Submission.objects.count() == 2
    assert models.Submission.objects.filter(staff_notified_at__isnull=True).count() == 1


def test_the_digest_goes_through_the_worker_in_each_reviewers_language(e2e, ses, settings):
    from worker import app

    make_user("admin1", staff=True)
    make_user("admin2", staff=True, language="ne")
    for name in ("hari", "gita", "ram"):
        complete_wizard(logged_in(make_user(name)))
    wait_all_final()
    end_the_window(settings)
    # What beat does every minute: the task by name, run by the real worker.
    wait_for(
        lambda: app.send_task("candidates.staff_digest") and emails(DIGEST),
        timeout=30,
        message="the worker to send the digest",
    )
    wait_all_final()
    digests = {m["To"]: m for m in ses.sent() if "wait for review" in m["Subject"] or "प्रतीक्षामा" in m["Subject"]}
    assert sorted(digests) == ["admin1@example.com", "admin2@example.com"]
    english = digests["admin1@example.com"]
    assert english["Subject"].strip() == "[ElectNepal] 2 more candidate profiles wait for review"
    text = english.get_body(("plain",)).get_content()
    assert text.count("https://electnepal.test/admin/candidates/candidate/") == 3  # two profiles + the list
    nepali = digests["admin2@example.com"]
    assert nepali["Subject"].strip() == "[ElectNepal] थप २ उम्मेदवार विवरण समीक्षाको प्रतीक्षामा छन्"
    assert "<table" in nepali.get_body(("html",)).get_content()
