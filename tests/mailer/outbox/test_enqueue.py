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
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            mail.enqueue(template=TEMPLATE, to="ghost@example.com", context=CONTEXT)
            raise RuntimeError("the caller's change failed")
    assert not Email.objects.filter(to="ghost@example.com").exists()
    # A later email passes through the same queue: once it has arrived, anything
    # published for the rolled-back one would have arrived too.
    wait_final(queue(to="marker@example.com"))
    assert [m["To"] for m in ses.sent()] == ["marker@example.com"]


@pytest.mark.parametrize("address", ["sita@example.com\r\nBcc: evil@example.com", "sita@example.com\nX: 1", "a\rb@example.com"])
def test_the_outbox_refuses_an_address_with_a_line_break(db, address):
    with pytest.raises(ValidationError):
        mail.enqueue(template="accounts/email/welcome", to=address, context={})
    assert not Email.objects.exists()
