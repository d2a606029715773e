"""Deleting many rows without holding long locks, in batches of ids.

As django-post-office's cleanup does. Used by the outbox's retention
(mailer.outbox.retention) and the accounts' nightly cleanup (accounts.cleanup);
it knows neither, and imports no project code.
"""

from collections.abc import Callable

from django.db import connections, router, transaction
from django.db.models import QuerySet
from django.db.models.deletion import Collector

BATCH_SIZE = 5000

# progress(kind, done, total): called with done=0 before the first batch of a kind
# and after every batch; total is the count taken before the first batch.
Progress = Callable[[str, int, int], None]


def _delete_rows(model) -> Callable[[list[int]], int]:
    """Delete the rows of ``model`` with these ids; return how many went (the model's own rows only).

    Deleting a row may cascade (a user's tokens, admin log, groups): then Django's
    collector does the work. Where it would not (no cascade, no signal: tokens, the
    outbox's events), PostgreSQL gets the statement Django would run, with the ids
    as one array parameter: Django's ``IN (%s, …)`` with a placeholder per id costs
    much of a batch's time (docs/performance.md).
    """
    meta = model._meta

    def delete(ids: list[int]) -> int:
        alias = router.db_for_write(model)
        connection = connections[alias]
        if connection.vendor == "postgresql" and Collector(using=alias, origin=model).can_fast_delete(
            model._base_manager.all()
        ):
            qn = connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = ANY(%s)", [ids])
                return cursor.rowcount
        return model.objects.filter(pk__in=ids).delete()[1].get(meta.label, 0)

    return delete


def delete_in_batches(
    queryset: QuerySet,
    *,
    delete: Callable[[list[int]], int] | None = None,
    batch_size: int = BATCH_SIZE,
    kind: str = "",
    progress: Progress | None = None,
) -> int:
    """Delete the rows of ``queryset`` a batch of pks at a time; return how many went.

    ``delete(ids)`` deletes one batch and returns its count (default: delete those
    rows of the queryset's model). Each batch is one short transaction. Keyset
    pagination (pk > the last one seen) never walks the dead rows of earlier batches
    again; ``SELECT ... FOR UPDATE SKIP LOCKED`` leaves the rows a concurrent run
    holds to that run, so two runs at once take disjoint batches and their counts
    add up to the rows that existed. ``progress`` costs one COUNT.
    """
    delete = delete or _delete_rows(queryset.model)
    total = queryset.count() if progress else 0
    if progress:
        progress(kind, 0, total)
    deleted, last_pk = 0, 0
    while True:
        with transaction.atomic():
            ids = list(
                queryset.filter(pk__gt=last_pk)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return deleted
            last_pk = ids[-1]
            deleted += delete(ids)
        if progress:
            progress(kind, deleted, total)
