"""The mailer's admin (mailer/admin.py): the email log's list, read-only, staff only; SES events read-only.

A row's history and preview are in ops/test_history.py, "send again" in outbox/test_resend.py.
"""

import pytest

from accounts.models import User
from mailer.models import Email, EmailEvent
from tests.support.email_log import change_url, html_url, make_row, send_again_url
from tests.support.mfa import staff_login
from tests.support.ses_events import post, sent_email, ses_message

Status = Email.Status


def test_changelist_links_to_the_previews_and_the_dashboard(staff_client):
    make_row()
    page = staff_client.get("/admin/mailer/email/").content.decode()
    assert 'href="/mailer/preview/"' in page and 'href="/admin/mailer/dashboard/"' in page


def test_unknown_row_is_404_not_500(staff_client):
    assert staff_client.get("/admin/mailer/email/999999/preview-html/").status_code == 404
    assert staff_client.get("/admin/mailer/email/not-a-number/preview-html/").status_code == 404


def test_the_log_is_read_only(staff_client):
    email = make_row(status=Status.SENT)
    page = staff_client.get(change_url(email)).content.decode()
    assert 'name="_save"' not in page
    staff_client.post(change_url(email), {"status": "queued"})
    assert Email.objects.get(pk=email.pk).status == Status.SENT


# --- access ---------------------------------------------------------------------------


@pytest.fixture(params=["anonymous", "not staff"])
def outsider(request, client, db):
    if request.param == "not staff":
        client.force_login(User.objects.create_user("citizen", "citizen@example.com", "citizen-pass-2082"))
    return client


def test_outsiders_are_sent_to_log_in(outsider):
    email = make_row()
    for method, url in [
        ("get", change_url(email)),
        ("get", html_url(email)),
        ("post", send_again_url(email)),
        ("get", "/admin/mailer/email/"),
    ]:
        response = getattr(outsider, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
    outsider.post("/admin/mailer/email/", {"action": "send_again", "_selected_action": [email.pk]})
    assert Email.objects.count() == 1


# --- SES events -----------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_see_events_read_only_and_delivery_status_in_the_email_log(sns, webhook, client):
    from accounts.models import User

    email = sent_email(to="listed@example.com")
    notification = sns.notification(ses_message("Bounce", message_id=email.message_id, to=email.to))
    assert post(webhook, notification).status_code == 200
    staff_login(client, User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082"))
    event = EmailEvent.objects.get()
    listing = client.get("/admin/mailer/emailevent/")
    assert listing.status_code == 200 and b"listed@example.com" in listing.content
    detail = client.get(f"/admin/mailer/emailevent/{event.pk}/change/")
    assert detail.status_code == 200 and b'name="recipient"' not in detail.content  # no form field: read-only
    assert client.get("/admin/mailer/emailevent/add/").status_code == 403
    emails = client.get("/admin/mailer/email/?delivery_status=bounced")
    assert emails.status_code == 200 and b"listed@example.com" in emails.content
