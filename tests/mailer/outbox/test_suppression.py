"""``mailer.outbox.suppression``: is an address on the list? Either case, one index lookup."""

from django.db import connection

from mailer.models import Suppression
from mailer.outbox.suppression import _suppressed_statement, suppressed


def test_suppressed_ignores_letter_case_on_both_sides(db):
    Suppression.objects.create(address="Bounced@Example.com", reason="bounce")
    Suppression.objects.create(address="ÉMILE@example.com", reason="complaint")

    assert suppressed("bounced@example.com") and suppressed("BOUNCED@EXAMPLE.COM")
    assert suppressed("émile@EXAMPLE.com")
    assert not suppressed("bounced@example.org") and not suppressed("ounced@example.com")


def test_suppressed_reads_the_unique_index_not_every_row(db):
    """The list grows with every hard bounce: the check must stay an index lookup."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Suppression._meta.db_table} (address, reason, detail, created_at) "
            "SELECT 'user' || g || '@Example.com', 'bounce', '', now() FROM generate_series(1, 5000) g"
        )
        cursor.execute(f"ANALYZE {Suppression._meta.db_table}")
        cursor.execute("EXPLAIN " + _suppressed_statement("default"), ["someone@example.org"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "mailer_suppression_address_ci_unique" in plan and "Seq Scan" not in plan, plan
    assert suppressed("USER4999@example.COM") and not suppressed("user5001@example.com")
