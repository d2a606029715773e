"""The admin's email log of one row (mailer.ops.history): its history and its preview, never a link's token.

Real PostgreSQL throughout; the sent link email goes through the real worker to moto
(``e2e`` and ``ses``).
"""

import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mailer import api as mail
from mailer.models import Email, EmailEvent
from mailer.ops import history
from mailer.rendering.previews import EMAIL_CSP
from tests.support.email_log import CONTEXT, VERIFICATION, change_url, html_url, make_row, wait_final

Status = Email.Status


# --- history --------------------------------------------------------------------------


def test_change_page_shows_the_history_of_a_retried_bounced_row(staff_client):
    now = timezone.now()
    email = make_row(
        status=Status.SENT,
        attempts=2,
        message_id="0100-ses-id-42",
        delivery_status="bounced",
        sent_at=now - timedelta(minutes=5),
        errors=[
            {
                "attempt": 1,
                "at": (now - timedelta(minutes=8)).isoformat(),
                "error": "TooManyRequestsException: Maximum sending rate exceeded.",
                "transient": True,
            }
        ],
    )
    Email.objects.filter(pk=email.pk).update(created_at=now - timedelta(minutes=10))
    EmailEvent.objects.create(
        email=email,
        message_id="0100-ses-id-42",
        type="bounce",
        subtype="Permanent",
        recipient="kamala@example.com",
        sns_message_id="sns-1",
    )

    page = staff_client.get(change_url(email))
    assert page.status_code == 200
    html = page.content.decode()
    history = html[html.index('id="email-history"') :]
    # In time order: created, the failed attempt, sent, then what SES said.
    steps = [
        "Created",
        "Attempt 1 failed, retried later",
        "TooManyRequestsException",
        "Sent",
        "0100-ses-id-42",
        "SES bounce (Permanent)",
        "kamala@example.com",
    ]
    positions = [history.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Timestamps" in html and "Claimed by" in html and "bounced" in html
    assert "secret_context" not in html


def test_history_orders_entries_and_survives_malformed_errors(db):
    email = make_row(last_error="MessageRejected: no")
    later = email.created_at + timedelta(minutes=1)
    email.errors = [
        {
            "attempt": 2,
            "at": (later + timedelta(minutes=1)).isoformat(),
            "error": "MessageRejected: no",
            "transient": False,
        },
        {"attempt": 1, "at": later.isoformat(), "error": "timeout", "transient": True},
        "not a dict",
        {"attempt": 3, "at": "yesterday", "error": "no time"},
    ]
    whats = [entry.what for entry in history.history(email)]
    assert whats == [
        "Created",
        "Attempt 1 failed, retried later",
        "Attempt 2 failed, not retried",
        "Attempt 3 failed, not retried",  # no usable time: last of the attempts
        "Ended failed",
    ]


# --- preview --------------------------------------------------------------------------


def test_preview_renders_the_rows_own_context(staff_client):
    email = make_row(status=Status.SENT, context={**CONTEXT, "first_name": "<b>Kamala</b>"})
    page = staff_client.get(change_url(email)).content.decode()
    assert "[ElectNepal] Welcome to ElectNepal" in page
    text = page[page.index('id="email-text"') :]
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
    subject = page[page.index('id="email-subject"') :]
    assert subject.index("[ElectNepal] ElectNepal मा स्वागत छ") < subject.index("</p>")
    assert "Kamala" in staff_client.get(html_url(email)).content.decode()


def test_a_row_whose_template_is_gone_shows_why_not_a_500(staff_client):
    email = make_row(template="accounts/email/renamed_since")
    page = staff_client.get(change_url(email))
    assert page.status_code == 200 and b"cannot be rendered" in page.content
    assert staff_client.get(html_url(email)).status_code == 404


def verification_link() -> tuple[str, str]:
    token = str(uuid.uuid4())
    return token, f"https://electnepal.test/auth/verify-email/{token}/"


def queue_verification(to: str, link: str) -> Email:
    with transaction.atomic():
        (email,) = mail.enqueue(
            template=VERIFICATION,
            to=to,
            language="en",
            priority=Email.Priority.HIGH,
            context={"first_name": "Kamala", "username": "kamala", "ttl_hours": 72},
            secret_context={"verify_url": link},
            expires_at=timezone.now() + timedelta(hours=72),
        )
    return email


def assert_token_hidden(client, email: Email, token: str) -> None:
    page = client.get(change_url(email))
    frame = client.get(html_url(email))
    assert page.status_code == frame.status_code == 200
    for response in (page, frame):
        assert token not in response.content.decode()
        assert history.PLACEHOLDER in response.content.decode()
    assert "verify_url" in page.content.decode()  # named as not stored


def test_a_link_email_in_flight_never_shows_its_token(staff_client):
    # A ``db`` test: on_commit never fires, so the row stays queued with its ciphertext.
    token, link = verification_link()
    email = queue_verification("inflight@example.com", link)
    stored = Email.objects.get(pk=email.pk)
    assert stored.secret_context  # the secret is still stored
    assert [entry.what for entry in history.history(stored)] == ["Created", "Next attempt due"]
    assert_token_hidden(staff_client, email, token)


def test_a_sent_link_email_never_shows_its_token(e2e, ses, staff_client):
    token, link = verification_link()
    email = queue_verification("sent-link@example.com", link)
    done = wait_final(email.pk)
    assert done.status == Status.SENT and done.secret_context == ""
    (message,) = ses.sent()
    assert token in message.get_body(("plain",)).get_content()  # the real link did go out
    assert_token_hidden(staff_client, done, token)
