"""GET /healthz/: 200 when the database and the broker answer, 503 naming what is down."""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


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
@require_GET
def healthz(request):
    """``GET /healthz/``: 200 ``{"status": "ok", …}`` when every check passes, else 503 naming what is down."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means "down"; the class name says why
            results[name] = f"down: {type(exc).__name__}"
    down = [name for name, state in results.items() if state != "ok"]
    return JsonResponse({"status": "down" if down else "ok", "checks": results, "down": down}, status=503 if down else 200)
