"""The admin's mail dashboard: mailstats' figures and a chart of emails per hour by status.

``GET /admin/mailer/dashboard/`` (staff only, through the admin site). The chart
is an inline SVG drawn by the template from geometry computed here: no plotting
library, no JavaScript, nothing fetched from elsewhere, and every number escaped
by the template like any other value.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib import admin
from django.template.response import TemplateResponse

from ..models import Email
from . import aggregates, report

HOURS = 24
# One colour per status, in lifecycle order (colour-blind-safe palette, Okabe-Ito).
COLOURS = {
    Email.Status.QUEUED: "#E69F00",
    Email.Status.SENDING: "#56B4E9",
    Email.Status.SENT: "#009E73",
    Email.Status.FAILED: "#D55E00",
    Email.Status.EXPIRED: "#999999",
    Email.Status.SUPPRESSED: "#CC79A7",
}
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 240, 40, 24, 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


def chart(starts: list[datetime], counts: dict) -> dict:
    """Stacked bars, one per hour, and the axis labels, in SVG user units."""
    peak = max((sum(by_status.values()) for by_status in counts.values()), default=0) or 1
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    step = plot_w / len(starts)
    bars, labels = [], []
    for i, start in enumerate(starts):
        x, base = LEFT + i * step, TOP + plot_h
        for status, colour in COLOURS.items():
            n = counts.get(start, {}).get(status, 0)
            if not n:
                continue
            height = plot_h * n / peak
            base -= height
            bars.append(
                Bar(
                    round(x + 1, 1),
                    round(base, 1),
                    round(step - 2, 1),
                    round(height, 1),
                    colour,
                    f"{start:%H}:00 {status}: {n}",
                )
            )
        if i % 3 == 0:
            labels.append({"x": round(x + step / 2, 1), "text": f"{start:%H}:00"})
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "peak": peak,
        "bars": bars,
        "labels": labels,
        "label_y": HEIGHT - 6,
        "legend": [{"status": status, "colour": colour} for status, colour in COLOURS.items()],
    }


def dashboard_view(request):
    """Staff only (wrapped in admin.site.admin_view by the URLconf)."""
    figures = report.mail_stats()
    starts, counts = aggregates.hourly_counts(hours=HOURS)
    context = {
        **admin.site.each_context(request),
        "title": "Mail dashboard",
        "report": report.render_text(figures),
        "chart": chart(starts, counts),
        "hours": [
            {
                "start": start,
                "total": sum(counts[start].values()),
                "cells": [counts[start].get(status, 0) for status in COLOURS],
            }
            for start in reversed(starts)
        ],
        "statuses": list(COLOURS),
    }
    return TemplateResponse(request, "admin/mailer/dashboard.html", context)
