"""Celery app configured from Django settings (namespace ``CELERY_``).

JSON only, late acks, one prefetched message per process, and tasks that are
requeued when their worker dies; the outbox row, not the message, decides what is
sent, so a redelivered message is harmless.
"""

import os
import secrets
import sys

from celery import Celery, signals

from . import broker, queues

# Before anything reads a setting: ``celery -A worker`` is started without it.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "electnepal.settings")


def _refuse_open_flower() -> None:
    """Flower shows every task and worker: never serve it without basic auth.

    It also listens on loopback unless told otherwise (--address or FLOWER_ADDRESS;
    the container sets 0.0.0.0 and publishes the port on the host's loopback only):
    Flower's own default is every interface.
    """
    if "flower" in sys.argv[1:]:
        if not os.environ.get("FLOWER_BASIC_AUTH"):
            sys.exit("Refusing to start Flower without FLOWER_BASIC_AUTH=user:password in the environment.")
        os.environ.setdefault("FLOWER_ADDRESS", "127.0.0.1")
        # Flower reads the broker settings and signs nothing, so it needs not the app's
        # key (docker-compose.yml gives it none): a throwaway one lets the settings load.
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
        # Nor does it build a link: an https placeholder passes the settings' startup checks
        # (electnepal/startup_checks.py), which refuse an http SITE_URL without DEBUG.
        os.environ.setdefault("SITE_URL", "https://flower.invalid")


_refuse_open_flower()
broker.install()

app = Celery("electnepal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = queues.declared()
app.conf.task_routes = queues.routes()


app.autodiscover_tasks()


@signals.task_prerun.connect
def _drop_unusable_db_connections(**kwargs) -> None:
    """Django does this around each request; a worker thread needs it around each task."""
    from django.db import close_old_connections

    close_old_connections()
