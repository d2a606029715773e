"""Known rows for the hourly figures: 3 sent and 1 failed this hour, 2 sent 5 h ago, 1 queued 30 h ago."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailer.models import Email

Status = Email.Status


def make_email(status, *, hours_ago: float):
    now = timezone.now()
    email = Email.objects.create(
        template="accounts/email/welcome", to="v@example.com", status=status, next_attempt_at=now
    )
    Email.objects.filter(pk=email.pk).update(created_at=now - timedelta(hours=hours_ago))


@pytest.fixture
def rows(db):
    for _ in range(3):
        make_email(Status.SENT, hours_ago=0)
    make_email(Status.FAILED, hours_ago=0)
    for _ in range(2):
        make_email(Status.SENT, hours_ago=5)
    make_email(Status.QUEUED, hours_ago=30)  # outside the chart
