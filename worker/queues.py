"""Queues the project consumes, and where tasks go by name.

The queue names are settings, defined there once: MAILER_QUEUES (one queue per
email priority) and CELERY_TASK_DEFAULT_QUEUE. This module makes kombu Queues and
routes of them, when the Celery app is configured (settings must be loadable). A
worker started without ``-Q`` consumes every queue ``declared()`` lists, the
high-priority one first.
"""

from django.conf import settings
from kombu import Queue


def declared() -> tuple[Queue, ...]:
    """Every queue a worker consumes without ``-Q``: mail.high, mail.bulk, default, in that order."""
    names = (settings.MAILER_QUEUES["high"], settings.MAILER_QUEUES["bulk"], settings.CELERY_TASK_DEFAULT_QUEUE)
    return tuple(Queue(name, routing_key=name) for name in names)


def routes() -> dict[str, dict]:
    """Task name (or pattern) → queue. Task names only: this package imports no project app."""
    return {
        "mailer.deliver": {"queue": settings.MAILER_QUEUES["bulk"]},
        # Resend-verification and forgot-password requests become security email: first.
        "accounts.address_request": {"queue": settings.MAILER_QUEUES["high"]},
        "mailer.*": {"queue": settings.CELERY_TASK_DEFAULT_QUEUE},
    }
