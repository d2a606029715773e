"""Rates for django-ratelimit read from settings at request time, so they can be tuned without code.

@ratelimit(group="candidate-submit", key="user", rate=limit("RATELIMIT_CANDIDATE_SUBMIT_USER"),
           method="POST", block=True)
"""

from django.conf import settings


def limit(setting_name: str):
    """A django-ratelimit ``rate`` callable reading ``settings.<setting_name>``."""

    def rate(group, request) -> str:
        return getattr(settings, setting_name)

    return rate
