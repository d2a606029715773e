"""Celery tasks of candidates: thin adapters that call a service."""

from celery import shared_task

from . import services


@shared_task(name="candidates.staff_digest", ignore_result=True)
def staff_digest() -> int:
    """Beat, every minute: the reviewers' digest of waiting submissions, when its window allows (idempotent)."""
    return services.candidate_staff_digest()
