"""Deleting many rows without holding long locks.

The outbox retention (mailer.retention) deletes in batches of ids, as
django-post-office's cleanup does. The helper knows nothing of the outbox, so
mailer.api offers it to the apps' own cleanups too (accounts.cleanup) rather than
each keeping a copy.
"""

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet

BATCH_SIZE = 5000

# progress(kind, done, total): called with done=0 before the first batch of a kind
# and after every batch; total is the count taken before the first batch.
Progress = Callable[[str, int, int], None]


def _delete_rows(model) -> Callable[[list[int]], int]:
    # Deleting a row may cascade (a user's tokens, admin log, groups): count the
    # rows of the model itself only.
    return lambda ids: model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)


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
