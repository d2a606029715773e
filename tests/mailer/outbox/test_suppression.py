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


def test_the_orm_iexact_still_misses_the_index_the_workaround_is_for(db):
    """Why suppression.py writes its own SQL: Django's ``iexact`` compares ``UPPER()``, the index is on ``LOWER()``.

    If Django ever compiles ``iexact`` to something the index serves, this fails:
    the hand-written statement can then go (docs/performance.md).
    """
    query = Suppression.objects.filter(address__iexact="Someone@example.org")
    sql, params = query.query.sql_with_params()
    assert "UPPER(" in sql and "LOWER(" not in sql
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # even told to avoid a full scan, it cannot
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + _suppressed_statement("default"), ["Someone@example.org"])
        ours = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" in plan, plan
    assert "mailer_suppression_address_ci_unique" in ours, ours


def test_a_batch_is_checked_in_one_query(db):
    from django.test.utils import CaptureQueriesContext

    from mailer.outbox.suppression import suppressed_among

    Suppression.objects.create(address="Bounced@Example.com", reason="bounce")
    with CaptureQueriesContext(connection) as queries:
        found = suppressed_among(["BOUNCED@example.com", "fine@example.com", "bounced@EXAMPLE.COM"])
    assert found == {"BOUNCED@example.com", "bounced@EXAMPLE.COM"} and len(queries) == 1
