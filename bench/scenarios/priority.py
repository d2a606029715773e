"""Priority under backlog: password resets (high priority) at 10/s while N bulk emails drain."""

import time
from collections.abc import Iterator

from bench.harness import (
    CONTEXT,
    SES,
    WORKER,
    Bench,
    Config,
    label,
    pace,
    percentile,
    reset_outbox,
    start_worker,
    stop_worker,
    warm_up,
)
from bench.report import Section, md


def priority_under_backlog(
    ses: SES, backlog: int, rate: float, config: Config, latency_ms: float, rounds: int = 3
) -> dict:
    """Password-reset emails (high priority, encrypted link, expiry) at ``rate``/s while ``backlog`` bulk drain.

    The worker is started and warmed up. Each round queues the bulk emails in one
    transaction and, from SES's first acceptance of one of them, commits resets one
    per transaction until 90 % of the backlog is sent. Commit → accepted per reset
    over all rounds, and how much bulk was still waiting at the last reset.
    """
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from mailer import api

    reset_outbox()
    worker = start_worker(config, tag="b")
    delays, bulk_after = [], []
    try:
        warm_up(ses, config)
        for round_ in range(rounds):
            ses.configure(latency_ms=latency_ms)  # counters and log start again
            committed = {}
            with transaction.atomic():
                api.enqueue(
                    template="accounts/email/welcome",
                    to=[f"bulk{round_}x{i}@example.com" for i in range(backlog)],
                    context=CONTEXT,
                )
            ses.wait_accepted(1, timeout=120)
            started, i = time.monotonic(), 0
            while ses.stats()["accepted"] < backlog * 0.9:
                pace(started, i, rate)
                to = f"reset{round_}x{i}@example.com"
                with transaction.atomic():
                    api.enqueue(
                        template="accounts/email/password_reset",
                        to=to,
                        priority=api.Priority.HIGH,
                        context={**CONTEXT, "ttl_hours": 24},
                        secret_context={"reset_url": f"https://electnepal.test/auth/reset-password/{i}/"},
                        expires_at=timezone.now() + timedelta(hours=24),
                    )
                committed[to] = time.time()
                i += 1
            ses.wait_accepted(backlog + len(committed), timeout=120)
            log = sorted(ses.log(), key=lambda entry: entry[1])
            for position, (_, accepted, to) in enumerate(log):
                if to in committed:
                    delays.append((accepted - committed[to]) * 1000)
                    bulk_after.append(sum(1 for _, _, other in log[position + 1 :] if other.startswith("bulk")))
    finally:
        stop_worker(worker)
    return {
        "backlog": backlog,
        "resets": len(delays),
        "rounds": rounds,
        "rate": rate,
        "label": label(config),
        "latency_ms": latency_ms,
        "p50": percentile(delays, 0.5),
        "p99": percentile(delays, 0.99),
        "max": max(delays),
        "bulk_after_last": min(bulk_after),
    }


def run(bench: Bench) -> Iterator[Section]:
    rows = []
    for latency_ms in (0, 50):
        r = priority_under_backlog(bench.ses, bench.n, 10, bench.workers[0], latency_ms)
        rows.append(
            [
                r["label"],
                f"{r['latency_ms']:.0f} ms",
                f"{r['backlog']} × {r['rounds']}",
                r["resets"],
                f"{r['p50']:.1f}",
                f"{r['p99']:.1f}",
                f"{r['max']:.1f}",
                r["bulk_after_last"],
            ]
        )
    yield Section(
        f"Priority: password resets at 10/s while {bench.n} bulk emails drain; commit → accepted by SES",
        md(
            [
                WORKER,
                "SES latency",
                "bulk queued × rounds",
                "resets",
                "p50 ms",
                "p99 ms",
                "max ms",
                "bulk still unsent when a reset was accepted, fewest",
            ],
            rows,
        ),
    )
