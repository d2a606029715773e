"""Erasure: the outbox rows addressed to a person who left are stripped of personal data.

When an account is deleted, the rows addressed to it must not keep the address,
the names in the context or the errors (a provider's error may quote the address)
for the rest of their retention. A row still ``queued`` or ``sending`` is work: it
needs its address to be sent (the "account deleted" email itself is one), so it is
only flagged, ``erase_when_final``, and erased by the statement that records its
final state (``state.mark_sent`` and ``state.finish`` apply ``ERASED``). A row
already final is erased at once, and its SES events go with it; events SES
reports later for a flagged row are stored without recipient or payload
(``mailer.ses.events``).

What stays: the template (the kind), language, status, timestamps, attempts and
SES message id, so that ``mailstats`` and the dashboard still count the row until
retention deletes it. The suppression list keeps an address that bounced or
complained: it protects the sender's reputation, not the account.

The flag and the erasure run in the caller's transaction: a deletion that rolls
back erases nothing.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Case, F, JSONField, TextField, Value, When
from django.db.models.functions import Lower

from ..models import Email, EmailEvent

#: The value of each personal field of an erased row.
ERASED = {"to": "", "context": {}, "errors": [], "last_error": ""}


def erasing(values: dict) -> dict:
    """``values`` of an UPDATE that ends a row, with the personal fields erased if the row is flagged.

    Each personal field becomes ``CASE WHEN erase_when_final THEN <erased> ELSE
    <the value given, or the column as it is> END``: the flag is read by the
    UPDATE itself, so a flag set while the row was being sent still counts.
    """
    result = dict(values)
    for name, erased in ERASED.items():
        output = JSONField() if isinstance(erased, (dict, list)) else TextField()
        kept = values.get(name, F(name))
        if not hasattr(kept, "resolve_expression"):  # Case would read a bare string as a column name
            kept = Value(kept, output_field=output)
        result[name] = Case(
            When(erase_when_final=True, then=Value(erased, output_field=output)), default=kept, output_field=output
        )
    return result


def recipient_erase(*, addresses: Iterable[str], since: datetime | None = None) -> dict[str, int]:
    """Erase the personal data of the emails addressed to ``addresses`` (any case), now or once final.

    Rows already in a final state are erased now, their SES events deleted; the
    others are flagged and erased when they end. ``since`` limits the search to
    rows created from then on (the account's creation: older rows were not its
    own, and the ``created_at`` index serves the search). Returns
    ``{"erased": n, "flagged": m, "email_events": k}``. Run it inside the
    transaction that deletes the account, after queuing any last email to it.
    """
    lowered = sorted({a.strip().lower() for a in addresses if a and a.strip()})
    if not lowered:
        return {"erased": 0, "flagged": 0, "email_events": 0}
    rows = Email.objects.alias(to_lower=Lower("to")).filter(to_lower__in=lowered)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    # Flag first, every status: a row that becomes final meanwhile is erased by
    # the second statement, a row that becomes final after the commit by the
    # statement that ends it (it waits on this transaction's row lock, then reads the flag).
    ids = list(rows.values_list("pk", flat=True))
    flagged = Email.objects.filter(pk__in=ids).update(erase_when_final=True)
    final = list(Email.objects.filter(pk__in=ids, status__in=Email.FINAL_STATUSES).values_list("pk", flat=True))
    events = EmailEvent.objects.filter(email_id__in=final).delete()[0]
    erased = Email.objects.filter(pk__in=final).update(**ERASED)
    return {"erased": erased, "flagged": flagged - erased, "email_events": events}
