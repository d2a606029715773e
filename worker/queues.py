"""Queues the project consumes, and where tasks go by name.

A worker started without ``-Q`` consumes every queue listed in QUEUES, the
high-priority one first. The mailer picks a queue per email from
``settings.MAILER_QUEUES``, whose values must be names listed here.
"""

from kombu import Queue

HIGH = "mail.high"
BULK = "mail.bulk"
DEFAULT = "default"

QUEUES = tuple(Queue(name, routing_key=name) for name in (HIGH, BULK, DEFAULT))

# Task names only: this package imports no project app.
ROUTES = {
    "mailer.deliver": {"queue": BULK},
    # Resend-verification and forgot-password requests become security email: first.
    "accounts.address_request": {"queue": HIGH},
    "mailer.*": {"queue": DEFAULT},
}
