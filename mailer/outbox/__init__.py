"""The outbox: an Email row per recipient is the truth about what is sent.

- ``enqueue``: ``enqueue``, ``site_url`` (what ``mailer.api`` exports);
- ``publish``: ``publish`` delivery tasks by name, ``queue_for``, ``max_countdown``;
- ``state``: every status change: ``claim``, ``mark_sent``, ``finish``, ``requeue``,
  ``reclaim_expired``;
- ``suppression``: ``suppressed`` (the list, through its index);
- ``message``: ``build_message`` (a row made into the backend's message);
- ``secret_context``: ``encrypt`` / ``decrypt`` of links that carry a token;
- ``delivery``: ``email_deliver`` (claim, check, render, send, record), ``backoff_delay``;
- ``attempt_log``: ``log_attempt`` (logs/email.log), ``mask_address``;
- ``sweep``: ``email_sweep``; ``retention``: ``email_retention_purge``;
- ``resend``: ``email_resend``, ``refusal`` ("send again" in the admin).

Imports ``sending``, ``rendering`` and ``mailer.models``; imported by ``mailer.api``,
``tasks``, ``admin``, ``ses`` and ``ops``.
"""
