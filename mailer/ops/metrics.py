"""``GET /mailer/metrics/``: the mailer's Prometheus metrics, for ops only.

Everything is read at scrape time, from the places every process shares, so that
any gunicorn process answers the same: the outbox table (PostgreSQL) and the
counters the workers add to in Redis (``mailer.sending.counters``). Two aggregate queries
and two Redis calls per scrape, whatever the volume:

- ``electnepal_mailer_emails{status,kind}``: emails created in the last 24 h
  (``WINDOW``, as ``manage.py mailstats``), by status and kind (a template name's
  last part); counting a window keeps the query bounded by the retention;
- ``electnepal_mailer_queued_emails``, ``electnepal_mailer_queued_due_emails``,
  ``electnepal_mailer_oldest_queued_seconds``: the backlog, whatever its age;
- ``electnepal_mailer_send_latency_seconds{priority}``,
  ``electnepal_mailer_send_duration_seconds``, ``electnepal_mailer_limiter_waits_total``,
  ``electnepal_mailer_limiter_wait_seconds_total``: the workers' shared counters;
- ``electnepal_mailer_quota_used``, ``electnepal_mailer_quota_limit``: the limiter's 24 h quota;
- ``electnepal_mailer_metrics_source_up{source}``: 0 when the database or Redis did
  not answer this scrape (their metrics are then left out, rather than a 500).

Access: a staff session, or ``Authorization: Bearer <MAILER_METRICS_TOKEN>``.
"""

import hmac
import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from ..models import Email
from ..sending import counters
from . import aggregates

logger = logging.getLogger("mailer.metrics")

WINDOW = timedelta(hours=24)
PREFIX = "electnepal_mailer_"
REALM = 'Bearer realm="electnepal mailer metrics"'


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=value)


def _buckets(pairs: list[tuple[float, float]]) -> list[tuple[str, float]]:
    """``counters.cumulative``'s pairs with ``le`` spelled as Prometheus spells it (``+Inf``, ``0.5``)."""
    return [(floatToGoString(bound), n) for bound, n in pairs]


class MailerCollector:
    """A prometheus_client collector that reads the database and Redis on every ``collect()``.

    It keeps no state, so a new instance per scrape costs nothing.
    """

    def describe(self) -> list:
        # Registering must not query anything; the registry holds this collector alone.
        return []

    def collect(self):
        families, up = [], {}
        # Each source is read whole before anything is yielded: generate_latest
        # cannot take back half a family if a source fails midway.
        for source, read in (("database", self._database), ("redis", self._redis)):
            try:
                families.extend(read())
                up[source] = 1
            except (DatabaseError, redis.RedisError) as exc:
                logger.warning("metrics: %s unavailable: %s", source, exc)
                up[source] = 0
        source_up = GaugeMetricFamily(
            PREFIX + "metrics_source_up", "1 if this scrape could read the source, else 0.", labels=["source"]
        )
        for source, value in up.items():
            source_up.add_metric([source], value)
        return [*families, source_up]

    def _database(self) -> list:
        now = timezone.now()
        emails = GaugeMetricFamily(
            PREFIX + "emails",
            f"Emails created in the last {WINDOW.total_seconds() / 3600:g} h, by status and kind (template).",
            labels=["status", "kind"],
        )
        # Every status of every kind seen, zeros included: an alert on
        # emails{status="failed"} then compares with 0 rather than with nothing.
        for kind, by_status in sorted(aggregates.created_by_kind(start=now - WINDOW, end=now).items()):
            for status in Email.Status.values:
                emails.add_metric([status, kind], by_status.get(status, 0))

        backlog = aggregates.backlog(now=now)
        return [
            emails,
            _gauge("queued_emails", "Emails waiting in the outbox (status queued), due or not.", backlog.queued),
            _gauge("queued_due_emails", "Queued emails whose next attempt is due now.", backlog.due),
            _gauge(
                "oldest_queued_seconds", "Age of the oldest queued email (0 when none).", backlog.oldest_age_seconds
            ),
        ]

    def _redis(self) -> list:
        fields = counters.read()
        latency = HistogramMetricFamily(
            PREFIX + "send_latency_seconds",
            "Seconds from an email's creation (the caller's transaction) to the backend accepting it; "
            "sent emails only, retries included.",
            labels=["priority"],
        )
        for priority in Email.Priority.values:
            prefix = f"latency:{priority}"
            pairs = counters.cumulative(fields, prefix, counters.LATENCY_BUCKETS)
            latency.add_metric([priority], _buckets(pairs), fields.get(f"{prefix}:sum", 0.0))
        duration = HistogramMetricFamily(
            PREFIX + "send_duration_seconds",
            "Seconds of the backend's send call (one SES request) for each sent email.",
            buckets=_buckets(counters.cumulative(fields, "duration", counters.DURATION_BUCKETS)),
            sum_value=fields.get("duration:sum", 0.0),
        )
        quota = aggregates.quota_use()
        if quota["used"] is None:
            raise redis.RedisError(quota["error"])
        return [
            latency,
            duration,
            CounterMetricFamily(
                PREFIX + "limiter_waits",
                "Times a worker thread slept for a send slot (MAILER_MAX_SEND_RATE).",
                value=fields.get("limiter_wait:count", 0.0),
            ),
            CounterMetricFamily(
                PREFIX + "limiter_wait_seconds",
                "Seconds worker threads slept for send slots.",
                value=fields.get("limiter_wait:seconds", 0.0),
            ),
            _gauge("quota_used", "Send slots reserved in the limiter's rolling 24 h window.", quota["used"]),
            _gauge("quota_limit", "MAILER_MAX_24H_SEND (0: no quota).", quota["limit"]),
        ]


def _denied(request: HttpRequest) -> HttpResponse | None:
    """None if ``request`` may read the metrics, else the response that says why not.

    - a bearer token equal to MAILER_METRICS_TOKEN (when one is set), or an active
      staff session: allowed;
    - a bearer token that does not match: 401, ``error="invalid_token"``;
    - any other logged-in user: 403;
    - no credentials: 401 with a ``WWW-Authenticate`` challenge.
    """
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    bearer = scheme.lower() == "bearer"
    expected = settings.MAILER_METRICS_TOKEN
    # Bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if bearer and expected and hmac.compare_digest(offered.strip().encode(), expected.encode()):
        return None
    try:
        user = request.user
        # Staff whose session passed the second factor (django-otp's middleware adds is_verified).
        verified = getattr(user, "is_verified", None)
        if user.is_active and user.is_staff and callable(verified) and verified():
            return None
        authenticated = user.is_authenticated
    except DatabaseError:
        # Sessions live in the database; without it no session can be checked.
        return HttpResponse("Database unavailable.\n", status=503, content_type="text/plain")
    if bearer or not authenticated:
        response = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = REALM + (', error="invalid_token"' if bearer else "")
        return response
    return HttpResponse("Staff only.\n", status=403, content_type="text/plain")


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The mailer's metrics in Prometheus's text format, to a staff session or the bearer token."""
    denied = _denied(request)
    if denied:
        return denied
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MailerCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
