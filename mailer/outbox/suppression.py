"""Is an address on the suppression list? One indexed lookup, for one address or a batch.

The list's unique index is on ``LOWER(address)``, so the lookup compares
``LOWER(address) = LOWER(%s)``: the ORM's ``iexact`` compiles to ``UPPER(…)``, which
that index does not serve (docs/performance.md). Both sides are lowered in SQL: the
database's idea of lower case, not Python's, is what the unique constraint enforces.
"""

from functools import cache

from django.db import connections, router

from ..models import Suppression


@cache
def _suppressed_statement(alias: str) -> str:
    qn = connections[alias].ops.quote_name
    meta = Suppression._meta
    return f"SELECT 1 FROM {qn(meta.db_table)} WHERE LOWER({qn(meta.get_field('address').column)}) = LOWER(%s) LIMIT 1"


@cache
def _suppressed_among_statement(alias: str) -> str:
    qn = connections[alias].ops.quote_name
    meta = Suppression._meta
    column = qn(meta.get_field("address").column)
    return (
        f"SELECT a FROM unnest(%s::text[]) a "
        f"WHERE EXISTS (SELECT 1 FROM {qn(meta.db_table)} WHERE LOWER({column}) = LOWER(a))"
    )


def suppressed_among(addresses: list[str]) -> set[str]:
    """Which of ``addresses`` are on the suppression list (as given); one query for them all."""
    if not addresses:
        return set()
    alias = router.db_for_read(Suppression)
    if connections[alias].vendor != "postgresql":
        return {a for a in addresses if suppressed(a)}
    with connections[alias].cursor() as cursor:
        cursor.execute(_suppressed_among_statement(alias), [list(addresses)])
        return {row[0] for row in cursor.fetchall()}


def suppressed(address: str) -> bool:
    """Whether ``address`` is on the suppression list (letter case ignored)."""
    alias = router.db_for_read(Suppression)
    with connections[alias].cursor() as cursor:
        cursor.execute(_suppressed_statement(alias), [address])
        return cursor.fetchone() is not None
