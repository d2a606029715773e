"""Helpers shared by the project's apps that belong to none of them; imports no project code.

- ``batches``: ``delete_in_batches`` (a queryset's rows, a batch of ids per short
  transaction, SKIP LOCKED), ``BATCH_SIZE`` and the ``Progress`` callback type;
- ``ratelimits``: ``limit``, a django-ratelimit rate read from a setting per request;
- ``cleanup_command``: ``CleanupCommand``, the base of the management commands that
  run such a cleanup by hand (``cleanup_tokens``, ``purge_emails``).
"""
