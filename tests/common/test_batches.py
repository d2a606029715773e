"""``common.batches.delete_in_batches``: which statement deletes a batch, and that nothing else goes.

The cleanup's own rules (what expires when, concurrent runs) are in
tests/accounts/test_cleanup.py; the outbox's in tests/mailer/outbox/test_retention.py.
"""

import pytest
from django.db import connection
from django.db.models.signals import post_delete
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.batches import delete_in_batches
from mailer.models import Email, EmailEvent, Suppression


def suppress(*addresses: str) -> list[Suppression]:
    return [Suppression.objects.create(address=address, reason="bounce") for address in addresses]


@pytest.mark.django_db
def test_a_model_nothing_cascades_from_goes_in_one_array_statement_per_batch():
    doomed = suppress(*(f"gone{i}@example.com" for i in range(7)))
    kept = suppress("kept@example.com", "also-kept@example.com")

    with CaptureQueriesContext(connection) as queries:
        deleted = delete_in_batches(Suppression.objects.filter(address__startswith="gone"), batch_size=3)

    assert deleted == 7
    assert set(Suppression.objects.values_list("pk", flat=True)) == {s.pk for s in kept}
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3 and all("= ANY(" in sql for sql in deletes), deletes  # 3 + 3 + 1
    assert {s.pk for s in doomed}.isdisjoint(Suppression.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_a_delete_signal_receiver_still_sees_every_row():
    suppress(*(f"gone{i}@example.com" for i in range(5)))
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.address)

    post_delete.connect(receiver, sender=Suppression)
    try:
        assert delete_in_batches(Suppression.objects.all(), batch_size=2) == 5
    finally:
        post_delete.disconnect(receiver, sender=Suppression)
    assert sorted(seen) == [f"gone{i}@example.com" for i in range(5)]


@pytest.mark.django_db
def test_rows_that_others_point_to_go_through_the_collector():
    """An email's events keep a SET_NULL link: Django's collector must clear it, not a bare DELETE."""
    email = Email.objects.create(template="accounts/email/welcome", to="a@example.com", next_attempt_at=timezone.now())
    event = EmailEvent.objects.create(email=email, type=EmailEvent.Type.DELIVERY, message_id="m1")

    assert delete_in_batches(Email.objects.all()) == 1

    event.refresh_from_db()
    assert event.email_id is None


@pytest.mark.django_db
def test_djangos_own_delete_still_sends_a_placeholder_per_id():
    """Why batches.py writes ``= ANY(%s)``: Django's ``pk__in`` builds ``IN (%s, %s, …)``, one per id.

    If Django ever sends the ids as one array, this fails and the workaround can go
    (docs/performance.md says what it buys).
    """
    ids = list(range(1, 101))
    sql, params = Suppression.objects.filter(pk__in=ids).query.sql_with_params()
    assert len(params) == 100 and sql.count("%s") == 100 and "ANY(" not in sql
