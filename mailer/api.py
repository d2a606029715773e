"""The mailer's public interface: the only module other apps import.

    from mailer import api as mail
    mail.enqueue(template="accounts/email/welcome", to=user.email, language="ne",
                 context={"first_name": user.first_name})

- ``enqueue``: queue an email in the caller's transaction, published on commit;
- ``site_url``: an absolute link for an email, from settings.SITE_URL;
- ``Priority``: ``HIGH`` (account security) or ``BULK``.
"""

from .models import Email
from .outbox.enqueue import enqueue, site_url

Priority = Email.Priority

__all__ = ["Priority", "enqueue", "site_url"]
