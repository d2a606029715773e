"""GET /healthz/: 200 when the database and the broker answer, 503 naming what is down.

Load balancers and container health checks probe the web processes by address
(``Host: 10.0.3.7:8000``) and over plain http, behind the proxy that terminates
TLS. The probe must see the process's health, not the site's host and https
rules, so ``HealthCheckMiddleware`` (first in MIDDLEWARE) answers the path before
anything reads the Host header (CommonMiddleware would answer 400 for a host
outside ALLOWED_HOSTS) or redirects to https (SecurityMiddleware, 301 with
SECURE_SSL_REDIRECT). Only this path is exempt; it shows no data and changes none.
"""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

PATH = "/healthz/"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    finally:
        client.close()


CHECKS = {"database": _database, "broker": _broker}


@never_cache
@require_safe
def healthz(request):
    """``GET /healthz/``: 200 ``{"status": "ok", …}`` when every check passes, else 503 naming what is down."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 any failure means "down"; the class name says why
            results[name] = f"down: {type(exc).__name__}"
    down = [name for name, state in results.items() if state != "ok"]
    return JsonResponse(
        {"status": "down" if down else "ok", "checks": results, "down": down}, status=503 if down else 200
    )


class HealthCheckMiddleware:
    """Answers ``/healthz/`` itself, whatever the Host header and the scheme; every other path goes on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == PATH:
            return healthz(request)
        return self.get_response(request)
