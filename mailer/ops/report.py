"""What the outbox did lately: the figures behind ``manage.py mailstats``.

- counts by status and by kind (a template name's last part) of the emails created
  in the window;
- bounce and complaint rates of the emails sent (``sent_at``) in the window, from
  ``Email.delivery_status`` (SES notifications), against the rates at which SES puts
  an account under review: 5 % bounces, 0.1 % complaints;
- the age of the oldest email still queued (whatever the window: it is a backlog);
- the rate limiter's use of the 24 h quota: the members of its Redis sorted set
  scored within the last MAILER_QUOTA_WINDOW_SECONDS, on Redis's clock as the
  limiter itself counts them, against MAILER_MAX_24H_SEND.

Every figure comes from mailer.ops.aggregates: four aggregate queries and one Redis
call, whatever the volume.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from ..models import Email
from . import aggregates

# SES puts an account under review at these rates (SES developer guide, "sending
# review process"); higher rates can get its sending paused.
BOUNCE_THRESHOLD = 0.05
COMPLAINT_THRESHOLD = 0.001
# WARNING from this fraction of a threshold on: time to act before SES does.
WARNING_FRACTION = 0.5

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)([smhdw])")
MAX_WINDOW = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    """``"24h"``, ``"90m"``, ``"7d"``, ``"2w"``, ``"1d12h"`` → timedelta; ValueError otherwise.

    Units: s, m (minutes), h, d, w. The duration must be positive and at most ten years.
    """
    value = (text or "").strip().lower()
    if not value or _DURATION.sub("", value):
        raise ValueError(f"{text!r} is not a duration: use a number and a unit, e.g. 30m, 2h, 7d, 1d12h.")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(value))
    if seconds <= 0:
        raise ValueError(f"{text!r}: the duration must be longer than zero.")
    if seconds > MAX_WINDOW.total_seconds():
        raise ValueError(f"{text!r}: the duration must be at most {MAX_WINDOW.days} days.")
    return timedelta(seconds=seconds)


def verdict(rate: float | None, threshold: float) -> str:
    """OK, WARNING (from half the threshold) or OVER (at or above it); n/a with nothing sent."""
    if rate is None:
        return "n/a"
    if rate >= threshold:
        return "OVER"
    if rate >= threshold * WARNING_FRACTION:
        return "WARNING"
    return "OK"


def _rate(count: int, sent: int, threshold: float) -> dict:
    rate = count / sent if sent else None
    return {"count": count, "rate": rate, "threshold": threshold, "verdict": verdict(rate, threshold)}


@dataclass(frozen=True)
class Window:
    label: str
    start: datetime
    end: datetime


def mail_stats(*, since: timedelta = timedelta(hours=24), label: str = "24h", now: datetime | None = None) -> dict:
    """The figures of the last ``since`` as one JSON-serialisable dict (see module doc)."""
    now = now or timezone.now()
    window = Window(label=label, start=now - since, end=now)

    # 1. Emails created in the window, by kind and status.
    created = aggregates.created_by_kind(start=window.start, end=window.end)
    by_status = {status: sum(counts.get(status, 0) for counts in created.values()) for status in Email.Status.values}
    # Busiest kind first; statuses in their lifecycle order.
    by_kind = {
        kind: {"total": sum(counts.values()), **{s: counts[s] for s in Email.Status.values if s in counts}}
        for kind, counts in sorted(created.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    }

    # 2. Emails sent in the window and what SES reported about them.
    sent = aggregates.delivery_counts(start=window.start, end=window.end)
    # 3. The oldest email still waiting to be sent.
    backlog = aggregates.backlog(now=now)

    return {
        "window": {
            "since": label,
            "seconds": int(since.total_seconds()),
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
        },
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_kind": by_kind,
        "sent": sent["sent"],
        "bounce": _rate(sent["bounced"], sent["sent"], BOUNCE_THRESHOLD),
        "complaint": _rate(sent["complained"], sent["sent"], COMPLAINT_THRESHOLD),
        "oldest_queued": backlog.oldest_id
        and {
            "id": backlog.oldest_id,
            "created_at": backlog.oldest_created_at.isoformat(),
            "age_seconds": round(backlog.oldest_age_seconds, 3),
        },
        "quota": aggregates.quota_use(),
    }


def over_thresholds(stats: dict, *, min_sent: int) -> list[str]:
    """The rates of ``mail_stats``'s dict at or over SES's review threshold, as sentences (empty: none).

    Rates over fewer than ``min_sent`` emails sent are not judged (one bounce out of
    three emails on a quiet night is no trend), as in mailer.ops.alerts.
    """
    if stats["sent"] < max(min_sent, 1):
        return []
    return [
        f"{name} rate {_percent(stats[name]['rate'])} ({stats[name]['count']} of {stats['sent']} sent) is at or over "
        f"SES's review threshold of {_percent(stats[name]['threshold'])}"
        for name in ("bounce", "complaint")
        if stats[name]["verdict"] == "OVER"
    ]


def format_age(seconds: float) -> str:
    """``42 s``, ``3 min 12 s``, ``5 h 02 min``, ``2 d 04 h``."""
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


def _local(iso: str) -> str:
    return timezone.localtime(datetime.fromisoformat(iso)).strftime("%Y-%m-%d %H:%M %Z")


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.2f}".rstrip("0").rstrip(".") + " %"


def render_text(stats: dict) -> str:
    """The human-readable report of ``mail_stats``'s dict."""
    window = stats["window"]
    lines = [f"Emails created in the last {window['since']} (since {_local(window['start'])}): {stats['total']}"]
    lines.append("  by status: " + ", ".join(f"{status} {n}" for status, n in stats["by_status"].items()))
    if stats["by_kind"]:
        lines.append("  by kind:")
        width = max(len(kind) for kind in stats["by_kind"])
        for kind, counts in stats["by_kind"].items():
            detail = ", ".join(f"{status} {n}" for status, n in counts.items() if status != "total")
            lines.append(f"    {kind:<{width}}  {counts['total']:>7}  ({detail})")
    lines.append(f"Sent in the window: {stats['sent']}")
    for name in ("bounce", "complaint"):
        figure = stats[name]
        rate = "n/a" if figure["rate"] is None else _percent(figure["rate"])
        counted = f"({figure['count']} of {stats['sent']})"
        lines.append(
            f"  {name + ' rate':<15} {rate:>8} {counted:<16} SES review at {_percent(figure['threshold']):<7} "
            f"{figure['verdict']}"
        )
    oldest = stats["oldest_queued"]
    if oldest:
        age = format_age(oldest["age_seconds"])
        lines.append(f"Oldest queued email: {age} (#{oldest['id']}, created {_local(oldest['created_at'])})")
    else:
        lines.append("Oldest queued email: none")
    quota = stats["quota"]
    hours = quota["window_seconds"] / 3600
    if quota["used"] is None:
        lines.append(f"Quota ({hours:g} h): unavailable, Redis did not answer: {quota['error']}")
    elif quota["fraction"] is None:
        lines.append(f"Quota ({hours:g} h): {quota['used']:,} sends reserved (no quota set)")
    else:
        used = f"{quota['used']:,} of {quota['limit']:,}"
        lines.append(f"Quota ({hours:g} h): {used} sends reserved ({_percent(quota['fraction'])})")
    return "\n".join(lines)
