"""The mailer's public interface: the only module other apps import.

    from mailer import api as mail
    mail.enqueue(template="accounts/email/welcome", to=user.email, language="ne",
                 context={"first_name": user.first_name})

- ``enqueue``: queue an email in the caller's transaction, published on commit;
- ``site_url``: an absolute link for an email, from settings.SITE_URL;
- ``Priority``: ``HIGH`` (account security) or ``BULK``;
- ``recipient_erase``: the emails to a deleted account's addresses lose their
  personal data, at once or when they reach a final state.
"""

from .models import Email
from .outbox.enqueue import enqueue, site_url
from .outbox.erasure import recipient_erase

Priority = Email.Priority

__all__ = ["Priority", "enqueue", "recipient_erase", "site_url"]
