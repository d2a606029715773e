"""Queues the project consumes, and where tasks go by name.

The queue names are settings, defined there once: MAILER_QUEUE (the mail's:
doorbells and address requests) and CELERY_TASK_DEFAULT_QUEUE (periodic jobs).
This module makes kombu Queues and routes of them, when the Celery app is
configured (settings must be loadable). A worker started without ``-Q`` consumes
every queue ``declared()`` lists, the mail's first.
"""

from django.conf import settings
from kombu import Queue


def declared() -> tuple[Queue, ...]:
    """Every queue a worker consumes without ``-Q``, in the order it polls them."""
    names = (settings.MAILER_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE)
    return tuple(Queue(name, routing_key=name) for name in names)


def routes() -> dict[str, dict]:
    """Task name (or pattern) → queue. Task names only: this package imports no project app."""
    return {
        "mailer.deliver": {"queue": settings.MAILER_QUEUE},
        # Resend-verification and forgot-password requests become security email.
        "accounts.address_request": {"queue": settings.MAILER_QUEUE},
        "mailer.*": {"queue": settings.CELERY_TASK_DEFAULT_QUEUE},
    }
