"""Sending: one message through Django's email backend, within the account's limits.

- ``transport``: ``connection``, ``send`` (the provider's message id), ``probe``,
  ``reset_connection``; one SES client per process;
- ``errors``: ``classify`` (transient or permanent ``Outcome``), ``aws_error``, ``NothingSent``;
- ``limiter``: ``reserve`` / ``release`` send slots (``Grant``), ``quota_blocked``: the
  global send rate and 24 h quota, in Redis;
- ``breaker``: ``paused``, ``provider_failed``, ``provider_ok``: every worker pauses
  while the provider fails;
- ``counters``: ``record_send``, ``limiter_sleep``, ``read``: the workers' shared counters;
- ``warmup``: ``warm_up`` at worker start;
- ``redis_client``: one client per Redis URL and process.

Imports ``mailer.rendering`` and ``mailer.models``; imported by ``outbox`` and ``ops``.
"""
