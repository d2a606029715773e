"""The Celery application: ``celery -A worker worker|beat|flower``."""

from .celery import app

__all__ = ["app"]
