"""The admin's email log: each row's history and rendered preview, and "send again".

Real PostgreSQL throughout; sending goes through the real worker to moto (``e2e``
and ``ses``), so a row sent again is proven sent, not only written.
"""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from mailer import api as mail
from mailer.ops import history as email_log
from mailer.outbox import resend
from mailer.models import Email, EmailEvent, Suppression
from mailer.rendering.previews import EMAIL_CSP
from tests.conftest import wait_for

Status = Email.Status
WELCOME = "accounts/email/welcome"
VERIFICATION = "accounts/email/verification"
# Not the sample's "Sita": a preview showing this name rendered the row, not the sample.
CONTEXT = {"first_name": "Kamala", "username": "kamala", "login_url": "https://electnepal.test/auth/login/"}
SENDER = "ElectNepal <no-reply@electnepal.test>"


def change_url(email: Email) -> str:
    return f"/admin/mailer/email/{email.pk}/change/"


def html_url(email: Email) -> str:
    return f"/admin/mailer/email/{email.pk}/preview-html/"


def send_again_url(email: Email) -> str:
    return f"/admin/mailer/email/{email.pk}/send-again/"


def make_row(*, status=Status.FAILED, to="kamala@example.com", context=None, **fields) -> Email:
    """A row as the worker leaves it, written directly (nothing published)."""
    return Email.objects.create(
        template=fields.pop("template", WELCOME), to=to, status=status,
        context=CONTEXT if context is None else context, next_attempt_at=timezone.now(), **fields,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def wait_final(pk: int) -> Email:
    return wait_for(lambda: Email.objects.filter(pk=pk, status__in=Email.FINAL_STATUSES).first(),
                    message=f"email {pk} to reach a final state")


@pytest.fixture
def staff_client(client, db):
    admin = User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082")
    client.force_login(admin)
    return client


# --- history -----------------------------------------------------------------


def test_change_page_shows_the_history_of_a_retried_bounced_row(staff_client):
    now = timezone.now()
    email = make_row(
        status=Status.SENT, attempts=2, message_id="0100-ses-id-42", delivery_status="bounced",
        sent_at=now - timedelta(minutes=5), published_at=now - timedelta(minutes=9),
        errors=[{"attempt": 1, "at": (now - timedelta(minutes=8)).isoformat(),
                 "error": "TooManyRequestsException: Maximum sending rate exceeded.", "transient": True}],
    )
    Email.objects.filter(pk=email.pk).update(created_at=now - timedelta(minutes=10))
    EmailEvent.objects.create(email=email, message_id="0100-ses-id-42", type="bounce", subtype="Permanent",
                              recipient="kamala@example.com", sns_message_id="sns-1")

    page = staff_client.get(change_url(email))
    assert page.status_code == 200
    html = page.content.decode()
    history = html[html.index('id="email-history"'):]
    # In time order: created, the failed attempt, sent, then what SES said.
    steps = ["Created", "Attempt 1 failed, retried later", "TooManyRequestsException", "Sent",
             "0100-ses-id-42", "SES bounce (Permanent)", "kamala@example.com"]
    positions = [history.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Timestamps" in html and "Published at" in html and "bounced" in html
    assert "secret_context" not in html


def test_history_orders_entries_and_survives_malformed_errors(db):
    email = make_row(last_error="MessageRejected: no")
    later = email.created_at + timedelta(minutes=1)
    email.errors = [
        {"attempt": 2, "at": (later + timedelta(minutes=1)).isoformat(), "error": "MessageRejected: no",
         "transient": False},
        {"attempt": 1, "at": later.isoformat(), "error": "timeout", "transient": True},
        "not a dict",
        {"attempt": 3, "at": "yesterday", "error": "no time"},
    ]
    whats = [entry.what for entry in email_log.history(email)]
    assert whats == ["Created", "Attempt 1 failed, retried later", "Attempt 2 failed, not retried",
                     "Attempt 3 failed, not retried",  # no usable time: last of the attempts
                     "Ended failed"]


def test_changelist_links_to_the_previews_and_the_dashboard(staff_client):
    make_row()
    page = staff_client.get("/admin/mailer/email/").content.decode()
    assert 'href="/mailer/preview/"' in page and 'href="/admin/mailer/dashboard/"' in page


# --- preview -----------------------------------------------------------------


def test_preview_renders_the_rows_own_context(staff_client):
    email = make_row(status=Status.SENT, context={**CONTEXT, "first_name": "<b>Kamala</b>"})
    page = staff_client.get(change_url(email)).content.decode()
    assert "[ElectNepal] Welcome to ElectNepal" in page
    text = page[page.index('id="email-text"'):]
    assert "&lt;b&gt;Kamala&lt;/b&gt;" in text[: text.index("</pre>")]  # the text part, escaped by the page
    assert f'src="{html_url(email)}"' in page and "sandbox" in page

    frame = staff_client.get(html_url(email))
    assert frame.status_code == 200
    assert frame["Content-Security-Policy"] == EMAIL_CSP
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    body = frame.content.decode()
    assert "&lt;b&gt;Kamala&lt;/b&gt;" in body and "<b>Kamala" not in body  # escaped as the worker escapes
    assert "https://electnepal.test/auth/login/" in body


def test_preview_speaks_the_rows_language(staff_client):
    email = make_row(status=Status.SENT, language="ne")
    page = staff_client.get(change_url(email)).content.decode()
    subject = page[page.index('id="email-subject"'):]
    assert subject.index("[ElectNepal] ElectNepal मा स्वागत छ") < subject.index("</p>")
    assert "Kamala" in staff_client.get(html_url(email)).content.decode()


def test_a_row_whose_template_is_gone_shows_why_not_a_500(staff_client):
    email = make_row(template="accounts/email/renamed_since")
    page = staff_client.get(change_url(email))
    assert page.status_code == 200 and b"cannot be rendered" in page.content
    assert staff_client.get(html_url(email)).status_code == 404


def test_unknown_row_is_404_not_500(staff_client):
    assert staff_client.get("/admin/mailer/email/999999/preview-html/").status_code == 404
    assert staff_client.get("/admin/mailer/email/not-a-number/preview-html/").status_code == 404


def verification_link() -> tuple[str, str]:
    token = str(uuid.uuid4())
    return token, f"https://electnepal.test/auth/verify-email/{token}/"


def queue_verification(to: str, link: str) -> Email:
    with transaction.atomic():
        (email,) = mail.enqueue(
            template=VERIFICATION, to=to, language="en", priority=Email.Priority.HIGH,
            context={"first_name": "Kamala", "username": "kamala", "ttl_hours": 72},
            secret_context={"verify_url": link}, expires_at=timezone.now() + timedelta(hours=72),
        )
    return email


def assert_token_hidden(client, email: Email, token: str) -> None:
    page = client.get(change_url(email))
    frame = client.get(html_url(email))
    assert page.status_code == frame.status_code == 200
    for response in (page, frame):
        assert token not in response.content.decode()
        assert email_log.PLACEHOLDER in response.content.decode()
    assert "verify_url" in page.content.decode()  # named as not stored


def test_a_link_email_in_flight_never_shows_its_token(staff_client):
    # A ``db`` test: on_commit never fires, so the row stays queued with its ciphertext.
    token, link = verification_link()
    email = queue_verification("inflight@example.com", link)
    stored = Email.objects.get(pk=email.pk)
    assert stored.secret_context  # the secret is still stored
    assert [entry.what for entry in email_log.history(stored)] == ["Created", "Next attempt due"]
    assert_token_hidden(staff_client, email, token)


def test_a_sent_link_email_never_shows_its_token(e2e, ses, staff_client):
    token, link = verification_link()
    email = queue_verification("sent-link@example.com", link)
    done = wait_final(email.pk)
    assert done.status == Status.SENT and done.secret_context == ""
    (message,) = ses.sent()
    assert token in message.get_body(("plain",)).get_content()  # the real link did go out
    assert_token_hidden(staff_client, done, token)


# --- send again ----------------------------------------------------------------


def select_send_again(client, *emails: Email):
    return client.post("/admin/mailer/email/", {"action": "send_again", "_selected_action": [e.pk for e in emails]},
                       follow=True)


def test_send_again_queues_a_new_row_that_the_worker_sends(e2e, ses, staff_client, settings):
    settings.DEFAULT_FROM_EMAIL = "ElectNepal <unverified@electnepal.test>"  # moto: MessageRejected
    with transaction.atomic():
        (email,) = mail.enqueue(template=WELCOME, to="again@example.com", context=CONTEXT)
    failed = wait_final(email.pk)
    assert failed.status == Status.FAILED and ses.sent() == []
    settings.DEFAULT_FROM_EMAIL = SENDER

    response = select_send_again(staff_client, failed)
    new = Email.objects.exclude(pk=failed.pk).get(to="again@example.com")
    (notice,) = messages_of(response)
    assert notice.startswith("Queued 1 new email(s): ") and f'{change_url(new)}">#{new.pk}</a>' in notice
    assert (new.template, new.language, new.priority, new.context) == (WELCOME, "en", "bulk", CONTEXT)
    assert wait_final(new.pk).status == Status.SENT
    (message,) = ses.sent()
    assert message["To"] == "again@example.com" and "Kamala" in message.get_body(("plain",)).get_content()
    old = Email.objects.get(pk=failed.pk)  # keeps its own history
    assert (old.status, old.attempts, len(old.errors)) == (Status.FAILED, 1, 1)


def test_send_again_button_on_a_bounced_row(e2e, ses, staff_client):
    # The bounce suppressed the address; staff deleted the entry once it worked again.
    bounced = make_row(status=Status.SENT, delivery_status="bounced", to="fixed@example.com",
                       sent_at=timezone.now(), message_id="0100-bounced")
    page = staff_client.get(change_url(bounced)).content.decode()
    assert f'action="{send_again_url(bounced)}"' in page

    response = staff_client.post(send_again_url(bounced))
    assert response.status_code == 302 and response["Location"] == change_url(bounced)
    new = Email.objects.exclude(pk=bounced.pk).get(to="fixed@example.com")
    assert wait_final(new.pk).status == Status.SENT
    assert [m["To"] for m in ses.sent()] == ["fixed@example.com"]


def test_send_again_respects_the_suppression_list(staff_client):
    email = make_row(to="blocked@example.com")
    Suppression.objects.create(address="Blocked@Example.com", reason=Suppression.Reason.BOUNCE)
    response = select_send_again(staff_client, email)
    assert Email.objects.count() == 1
    assert any("suppression list" in m for m in messages_of(response))
    page = staff_client.get(change_url(email)).content.decode()
    assert 'id="send-again-refused"' in page and 'id="send-again"' not in page


def test_send_again_refuses_an_email_with_a_one_time_link(staff_client):
    email = make_row(template=VERIFICATION, expires_at=timezone.now() + timedelta(hours=1),
                     context={"first_name": "Kamala", "username": "kamala", "ttl_hours": 72})
    response = select_send_again(staff_client, email)
    assert Email.objects.count() == 1
    assert any("ask the user to request a new link" in m for m in messages_of(response))
    response = staff_client.post(send_again_url(email), follow=True)
    assert Email.objects.count() == 1
    assert any("ask the user to request a new link" in m for m in messages_of(response))


@pytest.mark.parametrize("status", [Status.QUEUED, Status.SENDING, Status.EXPIRED, Status.SUPPRESSED])
def test_send_again_leaves_other_states_alone(staff_client, status):
    email = make_row(status=status)
    response = select_send_again(staff_client, email)
    assert Email.objects.count() == 1
    assert any("only failed or bounced emails" in m for m in messages_of(response))
    assert 'id="send-again' not in staff_client.get(change_url(email)).content.decode()


def test_email_resend_reports_every_row(db):
    failed = make_row()
    transient_bounce = make_row(status=Status.SENT, delivery_status="delivered")
    emptied = make_row(status=Status.SENT, delivery_status="bounced", context={})  # finished before the log kept it
    probe = make_row(template="mailer/email/mailcheck", context={})  # a kind with nothing to fill in
    result = resend.email_resend(email_ids=[failed.pk, transient_bounce.pk, emptied.pk, probe.pk, 999999, failed.pk])
    assert set(result.queued) == {failed.pk, probe.pk}
    assert result.refused == {
        transient_bounce.pk: resend.NOT_RESENDABLE, emptied.pk: resend.CONTEXT_GONE, 999999: resend.MISSING,
    }
    new = Email.objects.get(pk=result.queued[failed.pk])
    assert (new.status, new.to, new.context, new.attempts, new.errors) == (
        Status.QUEUED, "kamala@example.com", CONTEXT, 0, [])


def test_send_again_url_takes_post_only(staff_client):
    email = make_row()
    assert staff_client.get(send_again_url(email)).status_code == 405
    assert Email.objects.count() == 1


def test_staff_who_may_only_view_cannot_send_again(client, db):
    viewer = User.objects.create_user("viewer", "viewer@example.com", "viewer-pass-2082", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_email"))
    client.force_login(viewer)
    email = make_row()
    page = client.get(change_url(email))
    assert page.status_code == 200 and b'id="send-again' not in page.content
    assert client.get(html_url(email)).status_code == 200
    assert client.post(send_again_url(email)).status_code == 403
    select_send_again(client, email)
    assert Email.objects.count() == 1


def test_the_log_is_read_only(staff_client):
    email = make_row(status=Status.SENT)
    page = staff_client.get(change_url(email)).content.decode()
    assert 'name="_save"' not in page
    staff_client.post(change_url(email), {"status": "queued"})
    assert Email.objects.get(pk=email.pk).status == Status.SENT


# --- access ----------------------------------------------------------------------


@pytest.fixture(params=["anonymous", "not staff"])
def outsider(request, client, db):
    if request.param == "not staff":
        client.force_login(User.objects.create_user("citizen", "citizen@example.com", "citizen-pass-2082"))
    return client


def test_outsiders_are_sent_to_log_in(outsider):
    email = make_row()
    for method, url in [("get", change_url(email)), ("get", html_url(email)), ("post", send_again_url(email)),
                        ("get", "/admin/mailer/email/")]:
        response = getattr(outsider, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url
    outsider.post("/admin/mailer/email/", {"action": "send_again", "_selected_action": [email.pk]})
    assert Email.objects.count() == 1
