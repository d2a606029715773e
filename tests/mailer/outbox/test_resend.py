"""Send again (mailer.outbox.resend): a failed or bounced email queued anew, as a new row.

The new row is proven sent by the real worker (``e2e`` and ``ses``); what is refused,
and which staff may.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from mailer import api as mail
from mailer.models import Email, Suppression
from mailer.outbox import resend
from tests.support.email_log import (
    CONTEXT,
    VERIFICATION,
    WELCOME,
    change_url,
    html_url,
    make_row,
    messages_of,
    send_again_url,
    wait_final,
)
from tests.support.mfa import staff_login

Status = Email.Status

SENDER = "ElectNepal <no-reply@electnepal.test>"


def select_send_again(client, *emails: Email):
    return client.post(
        "/admin/mailer/email/", {"action": "send_again", "_selected_action": [e.pk for e in emails]}, follow=True
    )


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
    bounced = make_row(
        status=Status.SENT,
        delivery_status="bounced",
        to="fixed@example.com",
        sent_at=timezone.now(),
        message_id="0100-bounced",
    )
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
    email = make_row(
        template=VERIFICATION,
        expires_at=timezone.now() + timedelta(hours=1),
        context={"first_name": "Kamala", "username": "kamala", "ttl_hours": 72},
    )
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
        transient_bounce.pk: resend.NOT_RESENDABLE,
        emptied.pk: resend.CONTEXT_GONE,
        999999: resend.MISSING,
    }
    new = Email.objects.get(pk=result.queued[failed.pk])
    assert (new.status, new.to, new.context, new.attempts, new.errors) == (
        Status.QUEUED,
        "kamala@example.com",
        CONTEXT,
        0,
        [],
    )


def test_send_again_url_takes_post_only(staff_client):
    email = make_row()
    assert staff_client.get(send_again_url(email)).status_code == 405
    assert Email.objects.count() == 1


def test_staff_who_may_only_view_cannot_send_again(client, db):
    viewer = User.objects.create_user("viewer", "viewer@example.com", "viewer-pass-2082", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_email"))
    staff_login(client, viewer)
    email = make_row()
    page = client.get(change_url(email))
    assert page.status_code == 200 and b'id="send-again' not in page.content
    assert client.get(html_url(email)).status_code == 200
    assert client.post(send_again_url(email)).status_code == 403
    select_send_again(client, email)
    assert Email.objects.count() == 1
