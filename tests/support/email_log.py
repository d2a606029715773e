"""Rows of the admin's email log and its URLs: change page, HTML preview, "send again"."""

from django.utils import timezone

from mailer.models import Email
from tests.support.waits import wait_for

Status = Email.Status

WELCOME = "accounts/email/welcome"
VERIFICATION = "accounts/email/verification"
# Not the sample's "Sita": a preview showing this name rendered the row, not the sample.
CONTEXT = {"first_name": "Kamala", "username": "kamala", "login_url": "https://electnepal.test/auth/login/"}


def change_url(email: Email) -> str:
    return f"/admin/mailer/email/{email.pk}/change/"


def html_url(email: Email) -> str:
    return f"/admin/mailer/email/{email.pk}/preview-html/"


def send_again_url(email: Email) -> str:
    return f"/admin/mailer/email/{email.pk}/send-again/"


def make_row(*, status=Status.FAILED, to="kamala@example.com", context=None, **fields) -> Email:
    """A row as the worker leaves it, written directly (nothing published)."""
    return Email.objects.create(
        template=fields.pop("template", WELCOME),
        to=to,
        status=status,
        context=CONTEXT if context is None else context,
        next_attempt_at=timezone.now(),
        **fields,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def wait_final(pk: int) -> Email:
    return wait_for(
        lambda: Email.objects.filter(pk=pk, status__in=Email.FINAL_STATUSES).first(),
        message=f"email {pk} to reach a final state",
    )
