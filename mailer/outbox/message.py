"""An outbox row made into the message the email backend sends."""

import re
import secrets
from email.policy import Compat32
from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from ..models import Email
from ..rendering import templates
from .secret_context import decrypt

# Printable ASCII words with single spaces between them: what Header.encode gives back unchanged.
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")


class PlainHeadersCompat32(Compat32):
    """compat32, the policy of Django's messages, writing a header that needs no folding as it is.

    compat32 runs every header through email.header.Header to fold it, the largest
    share of serialising a message (docs/performance.md). A value of printable ASCII
    words that fits on its line comes out of that unchanged, so it is written
    directly; every other header (non-ASCII, encoded words, long, odd whitespace)
    takes the standard way. The bytes are the same either way.
    """

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and _PLAIN_VALUE.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


PLAIN_HEADERS_COMPAT32 = PlainHeadersCompat32()


class OutboxMessage(EmailMultiAlternatives):
    """Django's message, with every multipart boundary drawn up front from ``secrets``.

    Serialised with PlainHeadersCompat32 (same bytes as compat32, less work).

    Left without one, the standard library's generator draws a boundary and compiles
    a regular expression to search the whole message for it, once per multipart and
    message: a noticeable share of a send (docs/performance.md). A boundary of 128
    random bits cannot occur in a text written before it was drawn.
    """

    def message(self, *args, **kwargs):
        msg = super().message(*args, **kwargs)
        msg.policy = PLAIN_HEADERS_COMPAT32  # the serialiser's policy, for the parts too
        for part in msg.walk():
            if part.is_multipart() and part.get_boundary() is None:
                part.set_boundary(f"==============={secrets.token_hex(16)}==")
        return msg


def build_message(email: Email) -> EmailMultiAlternatives:
    """Render ``email`` into a message with text and HTML parts (no I/O but templates).

    The secret context is decrypted only here, in memory, for the rendering. Raises
    what rendering raises (a missing template) and secret_context.InvalidToken when
    the key that encrypted the row is gone.
    """
    context = {**email.context, **decrypt(email.secret_context)}
    rendered = templates.render(template=email.template, context=context, language=email.language)
    from_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "electnepal.local"
    message = OutboxMessage(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        reply_to=[templates.contact_email()],
        headers={"Message-ID": make_msgid(domain=from_domain)},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
