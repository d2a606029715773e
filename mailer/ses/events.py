"""What SES tells us about the emails it accepted: delivery, bounce, complaint.

``ses_event_record`` is the one entry point. The webhook (``mailer.ses.webhook``) calls it
with an SNS notification whose signature and topic it has already verified; nothing
here trusts or distrusts the sender.

SES publishes two formats, both understood here:

- notifications of an identity: ``{"notificationType": "Bounce", "mail": …, "bounce": …}``
- event publishing of a configuration set: ``{"eventType": "Bounce", "mail": …, "bounce": …}``

For one notification:

- one EmailEvent per recipient it names, linked to the Email whose ``message_id``
  is SES's ``mail.messageId``. An unknown message id (another sender on the same
  SES account, or a row already purged) is still recorded, with no email: the
  address bounced all the same, and retention purges such orphans.
- ``Email.delivery_status`` only moves forward, ``"" → delivered → bounced →
  complained``: SES may report a delivery after a bounce or complaint of the same
  message (they travel separately), and the worse news must stay.
- A permanent bounce suppresses each bounced recipient, a complaint each complained
  recipient (``Suppression``; delivery then ends any later email
  to them ``suppressed``). A transient or undetermined bounce is recorded only: SES
  has retried already, and the address may work tomorrow. It leaves
  ``delivery_status`` alone too, because ``mailstats`` compares ``bounced`` with SES's
  bounce-rate review threshold, and SES counts hard bounces only.
- SNS delivers at least once: a redelivery keeps its SNS MessageId, and the unique
  (sns_message_id, recipient) constraint on EmailEvent makes it change nothing.
"""

import logging
from dataclasses import dataclass
from email.utils import parseaddr

from django.db import IntegrityError, transaction

from ..models import Email, EmailEvent, Suppression
from ..outbox.attempt_log import mask_address

logger = logging.getLogger("mailer.ses")

Type = EmailEvent.Type

# eventType (event publishing) or notificationType (identity notifications) → our type.
EVENT_TYPES = {"Delivery": Type.DELIVERY, "Bounce": Type.BOUNCE, "Complaint": Type.COMPLAINT}

# Email.delivery_status a recorded event may set, by event type; a transient bounce sets none.
DELIVERY_STATUS = {Type.DELIVERY: "delivered", Type.BOUNCE: "bounced", Type.COMPLAINT: "complained"}
# The order in which delivery_status may move: a later, lesser event never overwrites.
STATUS_RANK = {"": 0, "delivered": 1, "bounced": 2, "complained": 3}

# What ses_event_record returns.
RECORDED, DUPLICATE, IGNORED = "recorded", "duplicate", "ignored"

_ADDRESS_MAX = 254  # EmailField's max_length: a longer value would fail the insert


@dataclass(frozen=True)
class SesEvent:
    """One SES notification, reduced to what we act on."""

    type: str  # an EmailEvent.Type
    ses_message_id: str  # mail.messageId: SES's id of the email, as in Email.message_id
    subtype: str  # bounceType for a bounce, complaintFeedbackType for a complaint
    recipients: tuple[str, ...]
    permanent: bool  # a permanent bounce or a complaint: suppress the recipients


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _address(value) -> str:
    """A bare address from SES's recipient value ("a@b" or "Name <a@b>"); "" if unusable."""
    address = parseaddr(value)[1] if isinstance(value, str) else ""
    return address if "@" in address and len(address) <= _ADDRESS_MAX else ""


def _recipients(values) -> tuple[str, ...]:
    """Addresses named in a list of strings or of {"emailAddress": …} objects, in order, once each."""
    seen: dict[str, str] = {}
    for value in values if isinstance(values, list) else []:
        address = _address(value.get("emailAddress") if isinstance(value, dict) else value)
        if address:
            seen.setdefault(address.lower(), address)
    return tuple(seen.values())


def parse(message: dict) -> SesEvent | None:
    """The SesEvent of a parsed SES message, or None for an event type we do not record.

    ``eventType`` wins over ``notificationType`` (as in django-ses). Missing or
    malformed parts give empty values, never an exception.
    """
    message = _dict(message)
    name = message.get("eventType") or message.get("notificationType")
    kind = EVENT_TYPES.get(name) if isinstance(name, str) else None
    if kind is None:
        return None
    ses_message_id = _dict(message.get("mail")).get("messageId")
    ses_message_id = ses_message_id[:255] if isinstance(ses_message_id, str) else ""
    if kind == Type.DELIVERY:
        body = _dict(message.get("delivery"))
        return SesEvent(kind, ses_message_id, "", _recipients(body.get("recipients")), permanent=False)
    if kind == Type.BOUNCE:
        body = _dict(message.get("bounce"))
        bounce_type = str(body.get("bounceType") or "")
        recipients = _recipients(body.get("bouncedRecipients"))
        return SesEvent(kind, ses_message_id, bounce_type, recipients, permanent=bounce_type == "Permanent")
    body = _dict(message.get("complaint"))
    feedback = str(body.get("complaintFeedbackType") or "")
    return SesEvent(kind, ses_message_id, feedback, _recipients(body.get("complainedRecipients")), permanent=True)


def _email_for(ses_message_id: str) -> Email | None:
    """The outbox row SES knows by ``ses_message_id``, if any."""
    if not ses_message_id:
        return None  # an empty id would match every row never sent
    return Email.objects.filter(message_id=ses_message_id).order_by("pk").first()


def _delivery_status_for(event: SesEvent) -> str:
    if event.type == Type.BOUNCE and not event.permanent:
        return ""
    return DELIVERY_STATUS[event.type]


def _advance_delivery_status(email: Email, status: str) -> bool:
    """Set ``email.delivery_status`` to ``status`` unless it already says as much or worse.

    A conditional UPDATE, so two notifications racing each other cannot move it back.
    """
    lesser = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    return bool(Email.objects.filter(pk=email.pk, delivery_status__in=lesser).update(delivery_status=status))


def _suppress(event: SesEvent) -> None:
    """Add the event's recipients to the suppression list.

    An address already listed (whatever the case of its letters, or the reason it
    was listed for) keeps its first entry: ON CONFLICT DO NOTHING on the
    case-insensitive unique index, so concurrent notifications cannot collide.
    """
    reason = Suppression.Reason.COMPLAINT if event.type == Type.COMPLAINT else Suppression.Reason.BOUNCE
    detail = f"SES {event.type} {event.subtype}".strip() + f" of message {event.ses_message_id or '?'}"
    Suppression.objects.bulk_create(
        [Suppression(address=a, reason=reason, detail=detail) for a in event.recipients], ignore_conflicts=True
    )


def _record(event: SesEvent, *, sns_message_id: str, message: dict) -> Email | None:
    """Write the event rows, the delivery status and the suppressions in one transaction.

    Raises IntegrityError when the notification was recorded already (a concurrent
    redelivery won the race); the transaction then leaves nothing behind.
    """
    with transaction.atomic():
        email = _email_for(event.ses_message_id)
        # Its recipient deleted her account (mailer.outbox.erasure): the event is
        # counted, without the address or SES's payload, which names it.
        erased = email is not None and email.erase_when_final
        EmailEvent.objects.bulk_create(
            [
                EmailEvent(
                    email=email,
                    message_id=event.ses_message_id,
                    sns_message_id=sns_message_id,
                    type=event.type,
                    subtype=event.subtype[:50],
                    recipient=recipient,
                    payload={} if erased else message,
                )
                for recipient in (("",) if erased or not event.recipients else event.recipients)
            ]
        )
        status = _delivery_status_for(event)
        if email is not None and status:
            _advance_delivery_status(email, status)
        if event.permanent:
            _suppress(event)
    return email


def _duplicate(sns_message_id: str) -> str:
    logger.info("ses event duplicate sns_message_id=%s ignored (SNS redelivery)", sns_message_id)
    return DUPLICATE


def ses_event_record(*, sns_message_id: str, message: dict) -> str:
    """Record one SES notification (the parsed ``Message`` of an SNS notification).

    ``sns_message_id`` is the SNS envelope's MessageId, the key that makes a
    redelivery a no-op; it must not be empty. Returns ``recorded``, ``duplicate``
    (seen before: nothing changed) or ``ignored`` (an event type we do not record:
    send, open, click, …). Database errors propagate, so that the webhook answers
    5xx and SNS delivers the notification again later.
    """
    if not sns_message_id:
        raise ValueError("sns_message_id is required: it is what makes SNS redeliveries harmless.")
    event = parse(message)
    if event is None:
        logger.info("ses event ignored sns_message_id=%s (not a delivery, bounce or complaint)", sns_message_id)
        return IGNORED
    if EmailEvent.objects.filter(sns_message_id=sns_message_id).exists():
        return _duplicate(sns_message_id)
    try:
        email = _record(event, sns_message_id=sns_message_id, message=message)
    except IntegrityError:
        # A concurrent redelivery recorded it between our check and our insert.
        return _duplicate(sns_message_id)
    logger.info(
        "ses event type=%s subtype=%s message_id=%s email_id=%s to=%s suppressed=%s sns_message_id=%s",
        event.type,
        event.subtype or "-",
        event.ses_message_id or "-",
        email.pk if email else "unknown",
        ",".join(mask_address(a) for a in event.recipients) or "-",
        "yes" if event.permanent and event.recipients else "no",
        sns_message_id,
    )
    return RECORDED
