"""Keys and rates for django-ratelimit on the account pages.

Rates are read from settings at request time, so they can be tuned without code.
Per-address keys are the lower-cased posted address, whether or not it has an
account, so the limit itself reveals nothing.
"""

from django.conf import settings


def limit(setting_name: str):
    """A django-ratelimit ``rate`` callable reading ``settings.<setting_name>``."""

    def rate(group, request) -> str:
        return getattr(settings, setting_name)

    return rate


def posted_email_key(group, request) -> str:
    return (request.POST.get("email") or "").strip().lower()
