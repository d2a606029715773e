"""Writing into the outbox (mailer.outbox.enqueue): rows in the caller's transaction, published on commit.

An address with a line break is refused: it would add a header.
"""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from mailer import api as mail
from mailer.models import Email
from tests.support.outbox import CONTEXT, TEMPLATE, queue, wait_final


def test_rollback_leaves_neither_row_nor_email(e2e, ses):
    def enqueue_then_fail():
        with transaction.atomic():
            mail.enqueue(template=TEMPLATE, to="ghost@example.com", context=CONTEXT)
            raise RuntimeError("the caller's change failed")

    with pytest.raises(RuntimeError, match="the caller's change failed"):
        enqueue_then_fail()
    assert not Email.objects.filter(to="ghost@example.com").exists()
    # A later email passes through the same queue: once it has arrived, anything
    # published for the rolled-back one would have arrived too.
    wait_final(queue(to="marker@example.com"))
    assert [m["To"] for m in ses.sent()] == ["marker@example.com"]


@pytest.mark.parametrize(
    "address", ["sita@example.com\r\nBcc: evil@example.com", "sita@example.com\nX: 1", "a\rb@example.com"]
)
def test_the_outbox_refuses_an_address_with_a_line_break(db, address):
    with pytest.raises(ValidationError):
        mail.enqueue(template="accounts/email/welcome", to=address, context={})
    assert not Email.objects.exists()


def test_the_prepared_insert_writes_what_the_orm_writes(db):
    """enqueue's INSERT is built once, from the model: a row it writes reads back like one bulk_create writes.

    If a field is added that the prepared statement does not know how to fill, this fails.
    """
    from datetime import timedelta

    from django.utils import timezone

    from mailer.models import Email
    from mailer.outbox.enqueue import _insert

    now = timezone.now()
    fields = {
        "template": "accounts/email/welcome",
        "to": "sita@example.com",
        "language": "ne",
        "priority": "high",
        "context": {"first_name": "सीता", "n": [1, 2]},
        "secret_context": "cipher",
        "next_attempt_at": now,
        "expires_at": now + timedelta(hours=72),
    }
    ours = Email(**fields)
    _insert([ours])
    (theirs,) = Email.objects.bulk_create([Email(**fields)])
    a, b = Email.objects.filter(pk=ours.pk).values().get(), Email.objects.filter(pk=theirs.pk).values().get()
    for key in ("id", "created_at", "updated_at"):
        a.pop(key), b.pop(key)
    assert a == b and ours._state.adding is False
