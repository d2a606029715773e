"""Latency: an open-loop producer enqueues at a steady 100 emails/s; commit → accepted by SES, p50/p90/p99."""

import time
from collections.abc import Iterator

from bench.harness import (
    SES,
    WORKER,
    Bench,
    Config,
    enqueue_one,
    label,
    pace,
    percentile,
    reset_outbox,
    start_worker,
    stop_worker,
    warm_up,
)
from bench.report import Section, md


def latency(ses: SES, rate: float, seconds: float, config: Config, latency_ms: float) -> dict:
    """Each email matched to its SES arrival by To address; the producer's lag behind its schedule is reported."""
    reset_outbox()
    worker = start_worker(config, tag="l")
    try:
        warm_up(ses, config)
        ses.configure(latency_ms=latency_ms)
        n = int(rate * seconds)
        committed, behind = {}, 0.0
        started = time.monotonic()
        for i in range(n):
            behind = max(behind, pace(started, i, rate))
            to = f"lat{i}@example.com"
            enqueue_one(to)
            committed[to] = time.time()
        produced = time.monotonic() - started
        ses.wait_accepted(n, timeout=120)
    finally:
        stop_worker(worker)
    log = [entry for entry in ses.log() if entry[2] in committed]
    delays = [(accepted - committed[to]) * 1000 for _, accepted, to in log]
    arrivals = [(arrived - committed[to]) * 1000 for arrived, _, to in log]
    return {
        "n": n,
        "offered": n / produced,
        "behind_ms": behind * 1000,
        "label": label(config),
        "latency_ms": latency_ms,
        "p50": percentile(delays, 0.5),
        "p90": percentile(delays, 0.9),
        "p99": percentile(delays, 0.99),
        "max": max(delays),
        "arrival_p50": percentile(arrivals, 0.5),
        "arrival_p99": percentile(arrivals, 0.99),
    }


def run(bench: Bench) -> Iterator[Section]:
    rows = []
    for latency_ms in (0, 50):
        r = latency(bench.ses, 100, 5 if bench.quick else 20, bench.workers[0], latency_ms)
        rows.append(
            [
                r["label"],
                f"{r['latency_ms']:.0f} ms",
                r["n"],
                f"{r['offered']:.1f}",
                f"{r['p50']:.1f}",
                f"{r['p90']:.1f}",
                f"{r['p99']:.1f}",
                f"{r['max']:.1f}",
                f"{r['arrival_p50']:.1f} / {r['arrival_p99']:.1f}",
                f"{r['behind_ms']:.1f}",
            ]
        )
    yield Section(
        "Latency: commit → accepted by SES at a steady 100 emails/s (open loop)",
        md(
            [
                WORKER,
                "SES latency",
                "emails",
                "offered /s",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "commit → request reaches SES, p50 / p99 ms",
                "producer max lag ms",
            ],
            rows,
        ),
    )
