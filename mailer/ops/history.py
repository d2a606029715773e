"""What the admin's email log shows of one row: how its delivery went, and the email.

``history(email)`` is the row's story in time order: created, each failed attempt
(the ``errors`` list the worker keeps), sent or how it ended, and every SES event
(delivery, bounce, complaint) recorded for it.

``preview(email)`` renders the row through ``rendering.templates.render``, the worker's own
path, with the row's stored context. One-time links are never shown: the worker
erases their ciphertext at the final state, and while it is still stored (a row
queued or in flight) it is not decrypted here either, so that no raw token ever
sits in a web process's memory, where an error report could capture it. A key the
row's context lacks is filled from the kind's sample context: a link becomes
``PLACEHOLDER``, anything else the sample's value, and the preview names the keys
filled in either way, so staff know which parts are not what was sent.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.utils import timezone

from ..models import Email, EmailEvent
from ..rendering import samples, templates

logger = logging.getLogger("mailer")

PLACEHOLDER = "[one-time link, not stored]"

Status = Email.Status


@dataclass(frozen=True)
class Entry:
    """One line of a row's history. ``at`` is None when the record has no usable time."""

    at: datetime | None
    what: str
    detail: str = ""
    problem: bool = False  # a failure or a bounce/complaint: shown as an error


@dataclass(frozen=True)
class Preview:
    """A row rendered for the admin, or why it could not be."""

    email: templates.RenderedEmail | None
    error: str = ""
    placeholders: tuple[str, ...] = ()  # keys shown as PLACEHOLDER
    from_sample: tuple[str, ...] = ()  # keys not stored, shown with the sample's value


def _parse_time(value) -> datetime | None:
    """An aware datetime from an ``errors`` entry's ISO string, else None (never raises)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A naive time cannot be ordered against the aware ones around it.
    return None if timezone.is_naive(parsed) else parsed


def _error_entries(email: Email) -> list[Entry]:
    entries = []
    # ``errors`` is written by outbox.state (_error_entry): {"attempt", "at", "error", "transient"}.
    for item in email.errors if isinstance(email.errors, list) else []:
        if not isinstance(item, dict):
            continue
        attempt = item.get("attempt", "?")
        outcome = "failed, retried later" if item.get("transient") else "failed, not retried"
        entries.append(
            Entry(_parse_time(item.get("at")), f"Attempt {attempt} {outcome}", str(item.get("error", "")), problem=True)
        )
    return entries


def _event_entry(event: EmailEvent) -> Entry:
    what = f"SES {event.get_type_display().lower()}" + (f" ({event.subtype})" if event.subtype else "")
    problem = event.type != EmailEvent.Type.DELIVERY
    return Entry(event.created_at, what, event.recipient, problem=problem)


def _by_time(entries: list[Entry]) -> list[Entry]:
    # Stable: entries with equal times keep their order; undated ones go last.
    return sorted(entries, key=lambda e: (e.at is None, e.at or datetime.min.replace(tzinfo=UTC)))


def _outcome(email: Email) -> Entry | None:
    """How the row ended, or what it waits for now."""
    if email.status == Status.SENT:
        return Entry(email.sent_at, "Sent", f"SES message id {email.message_id or '-'}")
    if email.status in Email.FINAL_STATUSES:
        # outbox.state.finish stamps updated_at when the row ends; later changes (delivery_status) do not.
        return Entry(email.updated_at, f"Ended {email.status}", email.last_error, problem=True)
    if email.status == Status.QUEUED:
        return Entry(email.next_attempt_at, "Next attempt due", email.last_error)
    if email.status == Status.SENDING:
        return Entry(email.lease_expires_at, "Being sent (claim ends)", f"attempt {email.attempts}")
    return None


def history(email: Email) -> list[Entry]:
    """Everything known of ``email``'s delivery, in the order it happened.

    Created, the failed attempts by time, the outcome (or what the row waits
    for), then SES's events by time. The groups are ordered by what they are
    rather than by their clocks: the worker stamps a failure a moment after the
    final state, and an email is created a moment after its first due time.
    """
    entries = [Entry(email.created_at, "Created", f"queued, {email.priority} priority, language {email.language}")]
    entries += _by_time(_error_entries(email))
    outcome = _outcome(email)
    if outcome is not None:
        entries.append(outcome)
    entries += [_event_entry(e) for e in email.events.order_by("created_at", "pk")]
    return entries


def _looks_like_url(value) -> bool:
    return isinstance(value, str) and urlsplit(value.strip()).scheme in ("http", "https")


def preview_context(email: Email) -> tuple[dict, tuple[str, ...], tuple[str, ...]]:
    """The context to render ``email`` with, and the keys filled as placeholders or from the sample.

    The row's own context wins; missing keys come from the kind's sample (none for
    a kind without one). The secret context is never read.
    """
    context = dict(email.context) if isinstance(email.context, dict) else {}
    try:
        sample = samples.sample_context(email.template, email.language)
    except (KeyError, ValueError):  # no sample for this kind, or one that is not JSON
        sample = {}
    placeholders, from_sample = [], []
    for key, value in sample.items():
        if key in context:
            continue
        if _looks_like_url(value):
            context[key] = PLACEHOLDER
            placeholders.append(key)
        else:
            context[key] = value
            from_sample.append(key)
    return context, tuple(placeholders), tuple(from_sample)


def preview(email: Email) -> Preview:
    """``email`` rendered as the worker renders it, with one-time links replaced (never raises)."""
    context, placeholders, from_sample = preview_context(email)
    try:
        rendered = templates.render(template=email.template, context=context, language=email.language)
    except Exception as exc:  # noqa: BLE001 a template renamed or broken since: the log must still show the row
        logger.warning("email log: cannot render email=%s template=%s: %r", email.pk, email.template, exc)
        return Preview(None, f"{type(exc).__name__}: {exc}", placeholders, from_sample)
    return Preview(rendered, "", placeholders, from_sample)
