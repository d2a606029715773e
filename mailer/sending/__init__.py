"""Sending: one message through Django's email backend, within the account's limits.

- ``transport``: ``connection``, ``send`` (the provider's message id), ``probe``,
  ``reset_connection``; one SES client per process;
- ``errors``: ``classify`` (transient or permanent ``Outcome``), ``aws_error``, ``NothingSent``;
- ``limiter``: ``wait_for_slot``, ``reserve``: the global send rate and 24 h quota, in Redis;
- ``counters``: ``record_send``, ``limiter_sleep``, ``read``: the workers' shared counters;
- ``warmup``: ``warm_up`` at worker start;
- ``redis_client``: one client per Redis URL and process.

Imports ``mailer.rendering`` and ``mailer.models``; imported by ``outbox`` and ``ops``.
"""
