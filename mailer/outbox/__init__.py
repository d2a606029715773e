"""The outbox: an Email row per recipient is the truth about what is sent.

- ``enqueue``: ``enqueue``, ``site_url`` (what ``mailer.api`` exports);
- ``doorbell``: ``ring`` (one coalesced broker message: "there is email to send"),
  ``answered``, ``draining``, ``anyone_draining``;
- ``state``: every status change: ``claim_due``, ``mark_sent``, ``finish``, ``requeue``,
  ``release``, ``renew``, ``reclaim_expired``; ``next_due_in``;
- ``suppression``: ``suppressed``, ``suppressed_among`` (the list, through its index);
- ``message``: ``build_message`` (a row made into the backend's message);
- ``secret_context``: ``encrypt`` / ``decrypt`` of links that carry a token;
- ``delivery``: ``dispatcher()`` (this process's ``Dispatcher``: ``drain``, its keeper),
  ``backoff_delay``;
- ``lifecycle``: the worker's start and stop (Celery signals);
- ``attempt_log``: ``log_attempt`` (logs/email.log), ``mask_address``;
- ``sweep``: ``email_sweep``; ``retention``: ``email_retention_purge``;
- ``erasure``: ``recipient_erase`` (a deleted account's emails), ``erasing`` (used by ``state``);
- ``resend``: ``email_resend``, ``refusal`` ("send again" in the admin).

Imports ``sending``, ``rendering`` and ``mailer.models``; imported by ``mailer.api``,
``apps``, ``tasks``, ``admin``, ``ses`` and ``ops``.
"""
