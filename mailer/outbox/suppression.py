"""Is an address on the suppression list? One indexed lookup.

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


def suppressed(address: str) -> bool:
    """Whether ``address`` is on the suppression list (letter case ignored)."""
    alias = router.db_for_read(Suppression)
    with connections[alias].cursor() as cursor:
        cursor.execute(_suppressed_statement(alias), [address])
        return cursor.fetchone() is not None
