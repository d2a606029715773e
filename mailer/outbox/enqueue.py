"""Writing emails into the outbox: one ``Email`` row per recipient, the doorbell rung on commit.

``enqueue`` runs inside the caller's transaction: the rows commit (or roll back)
together with the change that caused them, and the doorbell rings only after a
successful commit. A rollback leaves neither row nor message.
"""

from collections.abc import Iterable
from datetime import datetime
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connections, router, transaction
from django.urls import reverse
from django.utils import timezone

from ..models import Email
from . import doorbell
from .secret_context import encrypt

Priority = Email.Priority


def site_url(viewname: str, *args) -> str:
    """An absolute link for an email, built from settings.SITE_URL, never from a request's Host."""
    return settings.SITE_URL + reverse(viewname, args=args)


@cache
def _insert_statement(alias: str, rows: int) -> str:
    """INSERT of ``rows`` Email rows, every column but the id, RETURNING the ids (built once per process)."""
    qn = connections[alias].ops.quote_name
    fields = [f for f in Email._meta.concrete_fields if not f.primary_key]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {qn(Email._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * rows)} RETURNING {qn(Email._meta.pk.column)}"
    )


def _insert(emails: list[Email]) -> None:
    """Insert ``emails`` in one statement and set their ids.

    What ``bulk_create`` runs, each value prepared by its field as the ORM prepares
    it, without compiling the query on every request (docs/performance.md).
    """
    alias = router.db_for_write(Email)
    connection = connections[alias]
    fields = [f for f in Email._meta.concrete_fields if not f.primary_key]
    params = [f.get_db_prep_save(f.pre_save(email, add=True), connection) for email in emails for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(_insert_statement(alias, len(emails)), params)
        ids = [row[0] for row in cursor.fetchall()]
    for email, pk in zip(emails, ids, strict=False):
        email.pk = pk
        email._state.adding, email._state.db = False, alias


def _clean_address(address: str) -> str:
    # A CR or LF in an address could add a header; validate_email already refuses
    # them, but be explicit because this is the line of defence.
    address = (address or "").strip()
    if "\r" in address or "\n" in address:
        raise ValidationError("Email address contains a line break.")
    validate_email(address)
    return address


def enqueue(
    *,
    template: str,
    to: str | Iterable[str],
    context: dict | None = None,
    secret_context: dict | None = None,
    language: str = "en",
    priority: str = Priority.BULK,
    expires_at: datetime | None = None,
) -> list[Email]:
    """Queue one email per recipient and ring the doorbell on commit.

    - ``template``: a template name; ``<template>.subject.txt``, ``.txt`` and ``.html``
      are rendered by the worker (see mailer.rendering).
    - ``context``: JSON-serialisable values safe to store (no secrets); kept after
      sending, for the admin's email log, until retention deletes the row.
    - ``secret_context``: values that must never be stored in clear, such as a link
      carrying a raw token; stored encrypted and erased after the final attempt.
    - ``language``: one of settings.LANGUAGES; unknown codes fall back to English.
    - ``priority``: ``high`` for account-security email, ``bulk`` otherwise.
    - ``expires_at``: the email is not sent after this moment (its link is dead).

    Must be called where a rollback of the caller's transaction should cancel the
    email; outside any transaction it commits at once. Raises ValidationError for a
    malformed address or an unknown priority; writes nothing in that case.
    """
    recipients = [to] if isinstance(to, str) else list(to)
    addresses = [_clean_address(a) for a in recipients]
    if priority not in Priority.values:
        raise ValidationError(f"Unknown priority {priority!r}.")
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE

    now = timezone.now()
    ciphertext = encrypt(secret_context or {})
    emails = [
        Email(
            template=template,
            to=address,
            language=language,
            priority=priority,
            context=context or {},
            secret_context=ciphertext,
            next_attempt_at=now,
            expires_at=expires_at,
        )
        for address in addresses
    ]
    # savepoint=False: inside the caller's transaction a savepoint would cost two round
    # trips per call (SAVEPOINT, RELEASE) and buy nothing, because a failed insert must
    # fail the caller's transaction anyway, never let it commit without its email.
    # Outside any transaction this still makes one, so several recipients commit together.
    with transaction.atomic(savepoint=False):
        _insert(emails)
        # The request does not wait for Redis: a background thread rings. A broker down
        # at commit time fails nothing; the rows stay due, and a worker's keeper rings
        # once the broker answers.
        transaction.on_commit(doorbell.ring_soon)
    return emails
