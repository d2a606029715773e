"""Every change of an email's status, written here and nowhere else.

A row moves ``queued → sending → sent | failed | expired | suppressed``, or from
``sending`` back to ``queued`` (a transient error, a slot given back, a lease that
ran out). Each move is one conditional UPDATE that names the status it expects and,
while a worker holds the row, the worker (``claimed_by``): a move made twice, or by
a worker that lost its claim, changes nothing.

- ``claim_due``: up to n due ``queued`` rows → ``sending``, security email first,
  returning the rows in one round trip (``FOR UPDATE SKIP LOCKED``: workers that
  claim at once take different rows);
- ``mark_sent``: claimed rows → ``sent`` with the provider's message ids, one statement;
- ``finish``: a claimed row → ``failed``, ``expired`` or ``suppressed``, with the error;
- ``requeue``: a claimed row → ``queued``, due again later;
- ``release``: claimed rows → ``queued`` untouched, the attempt given back;
- ``renew``: push the lease of every row a worker holds;
- ``reclaim_expired``: ``sending`` rows whose lease ran out (a worker died) → ``queued``.

Every final state erases the secret context (one-time links): only the plain
context stays, for the admin's email log, until retention deletes the row. A row
flagged ``erase_when_final`` (its recipient deleted her account) loses its
address, context and errors too, in the same statement (``erasure``).

``claim_due`` and ``mark_sent`` run for every email, so they are SQL built once
per process from the model's metadata rather than ORM queries (docs/performance.md).
Needs RETURNING: PostgreSQL, or SQLite 3.35 and newer (which serialises writers, so
it needs no row locks).
"""

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connections, router
from django.db.models import F
from django.db.models.sql import Query
from django.utils import timezone

from ..models import Email
from . import erasure

Status = Email.Status
# The order emails are claimed in: account security first (Priority's own order).
PRIORITIES = tuple(Email.Priority.values)


def _quoting(alias: str):
    """(quote a name, quoted column of an Email field) for database ``alias``."""
    qn = connections[alias].ops.quote_name
    return qn, lambda name: qn(Email._meta.get_field(name).column)


def _datetime_prep(connection):
    field = Email._meta.get_field("updated_at")
    return lambda value: field.get_db_prep_value(value, connection)


@cache
def _claim_statement(alias: str) -> str:
    """The claim's SQL for database ``alias`` (see claim_due for its parameters)."""
    qn, col = _quoting(alias)
    meta = Email._meta
    table = qn(meta.db_table)
    returning = ", ".join(f"{table}.{qn(f.column)}" for f in meta.concrete_fields)
    update = (
        f"UPDATE {table} SET {col('status')} = '{Status.SENDING}', {col('attempts')} = {col('attempts')} + 1, "
        f"{col('claimed_by')} = %s, {col('lease_expires_at')} = %s, {col('updated_at')} = %s "
    )
    due = f"{col('status')} = '{Status.QUEUED}' AND {col('next_attempt_at')} <= %s"
    if connections[alias].vendor != "postgresql":
        # SQLite: one writer at a time, no row locks; one priority per statement.
        return (
            f"{update}WHERE {col('id')} IN (SELECT {col('id')} FROM {table} WHERE {due} AND {col('priority')} = %s "
            f"ORDER BY {col('next_attempt_at')} LIMIT %s) RETURNING {returning}"
        )
    # One locked pick per priority, each served by the partial index on (priority, next_attempt_at):
    # the later ones take what the earlier left of n, each at most its own cap (bulk: the quota's share).
    picks, taken = [], "0"
    for i, priority in enumerate(PRIORITIES):
        picks.append(
            f"p{i} AS (SELECT {col('id')} FROM {table} WHERE {due} AND {col('priority')} = '{priority}' "
            f"ORDER BY {col('next_attempt_at')} LIMIT LEAST(GREATEST(%s - ({taken}), 0), %s) FOR UPDATE SKIP LOCKED)"
        )
        taken += f" + (SELECT count(*) FROM p{i})"
    union = " UNION ALL ".join(f"SELECT {col('id')} FROM p{i}" for i in range(len(PRIORITIES)))
    return f"WITH {', '.join(picks)} {update}WHERE {col('id')} IN ({union}) RETURNING {returning}"


def _rows_to_emails(alias: str, connection, rows: list) -> list[Email]:
    fields = Email._meta.concrete_fields
    # The ORM's own conversions (JSON, datetimes on SQLite, …), as a queryset applies them.
    compiler = Query(Email).get_compiler(connection=connection)
    converters = compiler.get_converters([f.get_col(Email._meta.db_table) for f in fields])
    names = [f.attname for f in fields]
    return [Email.from_db(alias, names, values) for values in compiler.apply_converters(rows, converters)]


def claim_due(*, limit: int, owner: str, bulk_limit: int | None = None) -> list[Email]:
    """Move up to ``limit`` due ``queued`` rows to ``sending`` for ``owner``; return them, high priority first.

    At most ``bulk_limit`` of them (default: ``limit``) may be bulk email. Each row's
    attempt counter goes up by one and its lease runs for MAILER_LEASE_SECONDS
    (``renew`` extends it; the sweeper takes back a row whose lease ran out). Rows
    another worker is claiming at the same moment are skipped.
    """
    if limit <= 0:
        return []
    caps = dict.fromkeys(PRIORITIES, limit)
    caps[Email.Priority.BULK] = limit if bulk_limit is None else max(0, min(limit, bulk_limit))
    alias = router.db_for_write(Email)
    connection = connections[alias]
    prep = _datetime_prep(connection)
    now = timezone.now()
    claim = [owner, prep(now + timedelta(seconds=settings.MAILER_LEASE_SECONDS)), prep(now)]
    rows = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The WITH's picks come first: for each priority, now, n and its cap.
            cursor.execute(
                _claim_statement(alias), [x for p in PRIORITIES for x in (prep(now), limit, caps[p])] + claim
            )
            rows = cursor.fetchall()
        else:
            for priority in PRIORITIES:
                room = min(limit - len(rows), caps[priority])
                if room > 0:
                    cursor.execute(_claim_statement(alias), [*claim, prep(now), priority, room])
                    rows += cursor.fetchall()
    emails = _rows_to_emails(alias, connection, rows)
    order = {p: i for i, p in enumerate(PRIORITIES)}
    return sorted(emails, key=lambda e: (order[e.priority], e.next_attempt_at, e.pk))


@cache
def _sent_statement(alias: str) -> str:
    """Record sends: %s = now, now, owner, then the ids and the message ids as two arrays (PostgreSQL)."""
    qn, col = _quoting(alias)
    table = qn(Email._meta.db_table)
    return (
        f"UPDATE {table} SET {col('status')} = '{Status.SENT}', {col('message_id')} = sent.message_id, "
        f"{col('last_error')} = '', {col('sent_at')} = %s, {col('lease_expires_at')} = NULL, "
        f"{col('claimed_by')} = '', {col('secret_context')} = '', {col('updated_at')} = %s, {_erasing_sql(col)}"
        f"FROM unnest(%s::bigint[], %s::text[]) AS sent(id, message_id) "
        f"WHERE {table}.{col('id')} = sent.id AND {col('status')} = '{Status.SENDING}' AND {col('claimed_by')} = %s"
    )


def _erasing_sql(col) -> str:
    """The SET items of erasure.ERASED for the SQL of mark_sent: each field erased if the row is flagged."""
    items = []
    for name, erased in erasure.ERASED.items():
        if name == "last_error":
            continue  # set to '' by every send already
        value = f"'{json.dumps(erased)}'::jsonb" if isinstance(erased, (dict, list)) else f"'{erased}'"
        items.append(f"{col(name)} = CASE WHEN {col('erase_when_final')} THEN {value} ELSE {col(name)} END")
    return ", ".join(items) + " "


def mark_sent(sends: Iterable[tuple[int, str]], *, owner: str) -> int:
    """Record that ``owner`` sent each (email id, provider message id); return how many rows it still held.

    One statement for the lot. A row no longer held by ``owner`` (its lease ran out
    and another worker took it) is left alone. Erases the secret context, as every
    final state does.
    """
    sends = list(sends)
    if not sends:
        return 0
    alias = router.db_for_write(Email)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        now = timezone.now()
        return sum(
            Email.objects.filter(pk=pk, status=Status.SENDING, claimed_by=owner).update(
                **erasure.erasing(
                    {
                        "status": Status.SENT,
                        "message_id": message_id,
                        "last_error": "",
                        "sent_at": now,
                        "lease_expires_at": None,
                        "claimed_by": "",
                        "secret_context": "",
                        "updated_at": now,
                    }
                )
            )
            for pk, message_id in sends
        )
    now = _datetime_prep(connection)(timezone.now())
    ids, message_ids = zip(*sends, strict=False)
    with connection.cursor() as cursor:
        cursor.execute(_sent_statement(alias), [now, now, list(ids), list(message_ids), owner])
        return cursor.rowcount


def _held(email: Email, owner: str):
    return Email.objects.filter(pk=email.pk, status=Status.SENDING, claimed_by=owner)


def _error_entry(email: Email, error: str, *, transient: bool, provider: bool = False) -> dict:
    # One entry of Email.errors; mailer.ops.history reads them back, delivery counts them.
    entry = {"attempt": email.attempts, "at": timezone.now().isoformat(), "error": error, "transient": transient}
    return {**entry, "provider": True} if provider else entry


def own_failures(email: Email) -> int:
    """The failed attempts of ``email`` that were its own trouble, not the provider's (see Outcome.provider)."""
    return sum(1 for entry in email.errors if isinstance(entry, dict) and not entry.get("provider"))


def finish(email: Email, status: str, *, error: str, owner: str) -> bool:
    """Record a final state other than ``sent`` for ``email`` held by ``owner``; False if no longer held.

    ``status`` is ``failed``, ``expired`` or ``suppressed``. The plain ``context``
    (names, links without a token) stays, so that the admin's email log can show
    what was sent and "send again" can queue it anew; the row, context included,
    goes with retention (MAILER_RETENTION_DAYS).
    """
    if status not in (Status.FAILED, Status.EXPIRED, Status.SUPPRESSED):
        raise ValueError(f"{status!r} is not a final state finish() records.")
    return bool(
        _held(email, owner).update(
            **erasure.erasing(
                {
                    "status": status,
                    "last_error": error,
                    "errors": [*email.errors, _error_entry(email, error, transient=False)],
                    "lease_expires_at": None,
                    "claimed_by": "",
                    "secret_context": "",
                    "updated_at": timezone.now(),
                }
            )
        )
    )


def requeue(email: Email, *, due_at: datetime, error: str, owner: str, provider: bool = False) -> bool:
    """Put ``email`` (held by ``owner``) back to ``queued``, due at ``due_at``, recording the attempt's ``error``.

    ``provider``: the provider's trouble, not the email's (``own_failures`` leaves
    it out). False if ``owner`` no longer held the row.
    """
    return bool(
        _held(email, owner).update(
            status=Status.QUEUED,
            next_attempt_at=due_at,
            lease_expires_at=None,
            claimed_by="",
            last_error=error,
            errors=[*email.errors, _error_entry(email, error, transient=True, provider=provider)],
            updated_at=timezone.now(),
        )
    )


def release(email_ids: Iterable[int], *, owner: str) -> int:
    """Give rows ``owner`` claimed but did not try back to ``queued``, as they were; return how many.

    The attempt is given back and nothing is recorded: no send was tried (no send
    slot, or the worker is stopping).
    """
    return Email.objects.filter(pk__in=list(email_ids), status=Status.SENDING, claimed_by=owner).update(
        status=Status.QUEUED,
        attempts=F("attempts") - 1,
        lease_expires_at=None,
        claimed_by="",
        updated_at=timezone.now(),
    )


def renew(*, owner: str, ids: Iterable[int]) -> int:
    """Extend to MAILER_LEASE_SECONDS from now the lease of the rows ``ids`` ``owner`` still holds; return how many.

    Only the rows a drain is working on: a claim the drain could not record (the
    database went away under it) must lapse, so that the sweeper puts it back.
    """
    ids = list(ids)
    if not ids:
        return 0
    now = timezone.now()
    return Email.objects.filter(pk__in=ids, status=Status.SENDING, claimed_by=owner).update(
        lease_expires_at=now + timedelta(seconds=settings.MAILER_LEASE_SECONDS)
    )


def reclaim_expired(*, now: datetime) -> int:
    """Put back to ``queued`` every ``sending`` row whose lease ended before ``now``; return how many.

    Such a claim belonged to a worker that stopped (killed, or cut off) before
    recording an outcome; the attempt it started stays counted. The row keeps its
    due time, which lies before any email queued since: it goes out ahead of them,
    not at the back of a backlog.
    """
    return Email.objects.filter(status=Status.SENDING, lease_expires_at__lt=now).update(
        status=Status.QUEUED,
        lease_expires_at=None,
        claimed_by="",
        last_error="Lease expired: the worker stopped before recording an outcome.",
        updated_at=now,
    )


def next_due_in(*, now: datetime, priority: str | None = None) -> float | None:
    """Seconds until the next ``queued`` row (of ``priority``, else any) is due: 0 if one is due now, None if none."""
    queued = Email.objects.filter(status=Status.QUEUED)
    if priority is not None:
        queued = queued.filter(priority=priority)
    first = queued.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return None if first is None else max(0.0, (first - now).total_seconds())
