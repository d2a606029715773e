"""Send again: a failed or bounced email queued anew, as a new row.

The old row keeps its history untouched; the new one goes through the outbox like
any email (``enqueue``: published on commit, claimed once, suppression and
rate limits checked by the worker). Refused, with the reason:

- rows that are neither ``failed`` nor ``sent`` with ``delivery_status`` ``bounced``
  (SES sets that for permanent bounces only; a transient bounce, which SES already
  retried, is no reason to send again);
- rows that carried a one-time link (``expires_at`` set): the link is dead or was
  never stored, and only the user can ask for a new one;
- addresses on the suppression list (a permanent bounce puts them there: staff
  delete the entry once the address works again);
- rows whose context was erased (sent before the log kept it), which would go
  out with blank names.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Email
from ..rendering import samples
from .enqueue import enqueue
from .suppression import suppressed

Status = Email.Status

NOT_RESENDABLE = "only failed or bounced emails are sent again"
ONE_TIME_LINK = "it carried a one-time link; ask the user to request a new link"
SUPPRESSED = "the address is on the suppression list (delete the entry to send again)"
CONTEXT_GONE = "its content was not kept (sent before the log kept it)"
INVALID_ADDRESS = "the address is not valid"
MISSING = "no such email"


@dataclass
class ResendResult:
    """What ``email_resend`` did: ``queued`` maps old ids to new ids, ``refused`` ids to a reason."""

    queued: dict[int, int] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


def _bounced(email: Email) -> bool:
    return email.status == Status.SENT and email.delivery_status == "bounced"


def _context_gone(email: Email) -> bool:
    if email.context:
        return False
    try:
        return bool(samples.sample_context(email.template, email.language))
    except (KeyError, ValueError):  # a kind without a sample: nothing says a context was needed
        return False


def refusal(email: Email) -> str | None:
    """Why ``email`` may not be sent again, or None when it may (reads the suppression list)."""
    if email.status != Status.FAILED and not _bounced(email):
        return NOT_RESENDABLE
    if email.expires_at is not None or email.secret_context:
        return ONE_TIME_LINK
    if suppressed(email.to):
        return SUPPRESSED
    if _context_gone(email):
        return CONTEXT_GONE
    return None


def email_resend(*, email_ids: Iterable[int]) -> ResendResult:
    """Queue a new email for each of ``email_ids`` that may be sent again; report every id.

    Each new row commits on its own (one refused or invalid row does not undo the
    others) and is published on commit. The suppression list is read here and read
    again by the worker before sending, so an address suppressed in between is
    still not sent to.
    """
    ids = list(dict.fromkeys(int(pk) for pk in email_ids))
    originals = Email.objects.in_bulk(ids)
    result = ResendResult()
    for pk in ids:
        email = originals.get(pk)
        reason = MISSING if email is None else refusal(email)
        if reason:
            result.refused[pk] = reason
            continue
        try:
            with transaction.atomic():
                (new,) = enqueue(
                    template=email.template,
                    to=email.to,
                    context=email.context,
                    language=email.language,
                    priority=email.priority,
                )
        except ValidationError:
            result.refused[pk] = INVALID_ADDRESS
            continue
        result.queued[pk] = new.pk
    return result
