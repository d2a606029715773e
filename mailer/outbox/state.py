"""Every change of an email's status, written here and nowhere else.

A row moves ``queued → sending → sent | failed | expired | suppressed``, or from
``sending`` back to ``queued`` (a transient error, a used-up quota, a lease that ran
out). Each move is one conditional UPDATE that names the status it expects, so a
move made twice, or by a worker that lost its claim, changes nothing.

- ``claim``: due ``queued`` → ``sending``, returning the whole row in one round trip;
- ``mark_sent``: ``sending`` → ``sent`` with the provider's message id;
- ``finish``: ``sending`` → ``failed``, ``expired`` or ``suppressed``, with the error;
- ``requeue``: ``sending`` → ``queued``, due again later;
- ``reclaim_expired``: ``sending`` rows whose lease ran out (a worker died) → ``queued``.

Every final state erases the secret context (one-time links): only the plain
context stays, for the admin's email log, until retention deletes the row.

``claim`` and ``mark_sent`` run on every email, so they are precompiled SQL rather
than ORM queries (docs/performance.md says what that buys). The claim is atomic: of
two workers racing for one row, the second's UPDATE waits for the first to commit,
re-checks its WHERE on the new row version (PostgreSQL's READ COMMITTED; SQLite
serialises writers) and matches nothing. Needs RETURNING: PostgreSQL, or SQLite 3.35
and newer.
"""

from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connections, router
from django.db.models import F
from django.db.models.sql import Query
from django.utils import timezone

from ..models import Email

Status = Email.Status


def _quoting(alias: str):
    """(quote a name, quoted column of an Email field) for database ``alias``."""
    qn = connections[alias].ops.quote_name
    return qn, lambda name: qn(Email._meta.get_field(name).column)


def _datetime_prep(connection):
    field = Email._meta.get_field("updated_at")
    return lambda value: field.get_db_prep_value(value, connection)


@cache
def _claim_statement(alias: str) -> str:
    """The claim's SQL for database ``alias`` (built once per process from the models' metadata)."""
    qn, col = _quoting(alias)
    email = Email._meta
    table = qn(email.db_table)
    returning = ", ".join(f"{table}.{qn(f.column)}" for f in email.concrete_fields)
    return (
        f"UPDATE {table} SET {col('status')} = %s, {col('attempts')} = {col('attempts')} + 1, "
        f"{col('lease_expires_at')} = %s, {col('updated_at')} = %s "
        f"WHERE {col('id')} = %s AND {col('status')} = %s AND {col('next_attempt_at')} <= %s "
        f"RETURNING {returning}"
    )


def claim(email_id: int) -> Email | None:
    """Move Email ``email_id`` from due ``queued`` to ``sending`` and return it; None if it isn't both.

    The attempt counter goes up by one and the lease runs for MAILER_LEASE_SECONDS
    (the sweeper takes back a claim whose lease ran out).
    """
    alias = router.db_for_write(Email)
    connection = connections[alias]
    now = timezone.now()
    prep = _datetime_prep(connection)
    params = [
        Status.SENDING,
        prep(now + timedelta(seconds=settings.MAILER_LEASE_SECONDS)),
        prep(now),
        email_id,
        Status.QUEUED,
        prep(now),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_claim_statement(alias), params)
        row = cursor.fetchone()
    if row is None:
        return None
    fields = Email._meta.concrete_fields
    # The ORM's own conversions (JSON, datetimes on SQLite, …), as a queryset applies them.
    compiler = Query(Email).get_compiler(connection=connection)
    converters = compiler.get_converters([f.get_col(Email._meta.db_table) for f in fields])
    values = next(compiler.apply_converters([row], converters))
    return Email.from_db(alias, [f.attname for f in fields], values)


@cache
def _sent_statement(alias: str) -> str:
    qn, col = _quoting(alias)
    return (
        f"UPDATE {qn(Email._meta.db_table)} SET {col('status')} = %s, {col('message_id')} = %s, "
        f"{col('last_error')} = '', {col('sent_at')} = %s, {col('lease_expires_at')} = NULL, "
        f"{col('secret_context')} = '', {col('updated_at')} = %s "
        f"WHERE {col('id')} = %s AND {col('status')} = %s"
    )


def mark_sent(email_id: int, message_id: str) -> bool:
    """Record that claimed Email ``email_id`` was sent as ``message_id``; False if it was no longer claimed.

    The secret context (one-time links) is erased with it, as every final state does.
    """
    alias = router.db_for_write(Email)
    connection = connections[alias]
    now = _datetime_prep(connection)(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(_sent_statement(alias), [Status.SENT, message_id, now, now, email_id, Status.SENDING])
        return cursor.rowcount == 1


def _error_entry(email: Email, error: str, *, transient: bool) -> dict:
    # One entry of Email.errors; mailer.ops.history reads them back.
    return {"attempt": email.attempts, "at": timezone.now().isoformat(), "error": error, "transient": transient}


def finish(email: Email, status: str, *, error: str) -> bool:
    """Record a final state other than ``sent`` for claimed ``email``, with ``error``; False if not claimed.

    ``status`` is ``failed``, ``expired`` or ``suppressed``. The plain ``context``
    (names, links without a token) stays, so that the admin's email log can show
    what was sent and "send again" can queue it anew; the row, context included,
    goes with retention (MAILER_RETENTION_DAYS).
    """
    if status not in (Status.FAILED, Status.EXPIRED, Status.SUPPRESSED):
        raise ValueError(f"{status!r} is not a final state finish() records.")
    return bool(
        Email.objects.filter(pk=email.pk, status=Status.SENDING).update(
            status=status,
            last_error=error,
            errors=[*email.errors, _error_entry(email, error, transient=False)],
            lease_expires_at=None,
            secret_context="",
            updated_at=timezone.now(),
        )
    )


def requeue(email: Email, *, due_at: datetime, published: bool, error: str = "", counts: bool = True) -> bool:
    """Put claimed ``email`` back to ``queued``, due at ``due_at``; False if it was no longer claimed.

    - ``published``: a delivery task is on its way for ``due_at`` (a countdown), so the
      sweeper leaves the row alone; otherwise the sweeper publishes it when due.
    - ``counts``: the attempt failed with ``error`` and counts; otherwise (no send
      slot) the attempt is given back and no error is recorded.
    """
    now = timezone.now()
    fields = {
        "status": Status.QUEUED,
        "next_attempt_at": due_at,
        "lease_expires_at": None,
        "published_at": now if published else None,
        "updated_at": now,
    }
    if counts:
        fields["last_error"] = error
        fields["errors"] = [*email.errors, _error_entry(email, error, transient=True)]
    else:
        fields["attempts"] = F("attempts") - 1
    return bool(Email.objects.filter(pk=email.pk, status=Status.SENDING).update(**fields))


def reclaim_expired(*, now: datetime) -> int:
    """Put back to ``queued``, due now, every ``sending`` row whose lease ended before ``now``; return how many.

    Such a claim belonged to a worker that stopped before recording an outcome; the
    attempt it started stays counted.
    """
    return Email.objects.filter(status=Status.SENDING, lease_expires_at__lt=now).update(
        status=Status.QUEUED,
        next_attempt_at=now,
        lease_expires_at=None,
        published_at=None,
        last_error="Lease expired: the worker stopped before recording an outcome.",
        updated_at=now,
    )
