"""An outbox row made into the message the email backend sends."""

from email.utils import make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from ..models import Email
from ..rendering import templates
from .secret_context import decrypt


def build_message(email: Email) -> EmailMultiAlternatives:
    """Render ``email`` into a message with text and HTML parts (no I/O but templates).

    The secret context is decrypted only here, in memory, for the rendering. Raises
    what rendering raises (a missing template) and secret_context.InvalidToken when
    the key that encrypted the row is gone.
    """
    context = {**email.context, **decrypt(email.secret_context)}
    rendered = templates.render(template=email.template, context=context, language=email.language)
    from_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "electnepal.local"
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        reply_to=[templates.contact_email()],
        headers={"Message-ID": make_msgid(domain=from_domain)},
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
