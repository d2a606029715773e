"""An outbox row made into the message the email backend sends."""

import secrets
from email.utils import formatdate, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from ..models import Email
from ..rendering import templates
from .mime import PLAIN_HEADERS_COMPAT32, WireMessage, wire_bytes
from .secret_context import decrypt


def _boundary() -> str:
    return f"==============={secrets.token_hex(16)}=="


class OutboxMessage(EmailMultiAlternatives):
    """Django's message, written to bytes directly in its usual shape, boundaries drawn up front.

    ``message()`` gives a WireMessage: the bytes of mailer.outbox.mime.wire_bytes,
    which is what email backends read, and the email.message tree (``tree()``) for
    anything else, built only when asked for. A message of another shape gets the
    tree at once. Either way the multipart boundaries are drawn from ``secrets``:
    left without one, the standard library's generator draws a boundary and
    compiles a regular expression to search the whole message for it, once per
    multipart and message (docs/performance.md). A boundary of 128 random bits
    cannot occur in a text written before it was drawn.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.boundary = _boundary()

    def message(self, *args, **kwargs):
        wire = None if args or kwargs else wire_bytes(self, boundary=self.boundary)
        return self.tree(*args, **kwargs) if wire is None else WireMessage(wire, self.tree)

    def tree(self, *args, **kwargs):
        """Django's email.message tree of this message, serialised with PlainHeadersCompat32."""
        msg = super().message(*args, **kwargs)
        msg.policy = PLAIN_HEADERS_COMPAT32  # the serialiser's policy, for the parts too
        for part in msg.walk():
            if part.is_multipart() and part.get_boundary() is None:
                part.set_boundary(self.boundary if part is msg else _boundary())
        return msg


def build_message(email: Email) -> EmailMultiAlternatives:
    """Render ``email`` into a message with text and HTML parts (no I/O but templates).

    The secret context is decrypted only here, in memory, for the rendering. Raises
    what rendering raises (a missing template) and secret_context.InvalidToken when
    the key that encrypted the row is gone.
    """
    context = {**email.context, **decrypt(email.secret_context)}
    rendered = templates.render(template=email.template, context=context, language=email.language)
    from_domain = templates.address_in(settings.DEFAULT_FROM_EMAIL).rpartition("@")[2] or "electnepal.local"
    message = OutboxMessage(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        reply_to=[templates.contact_email()],
        # Both set here, not when the message is serialised: its bytes and its tree agree.
        headers={
            "Message-ID": make_msgid(domain=from_domain),
            "Date": formatdate(localtime=settings.EMAIL_USE_LOCALTIME),
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
