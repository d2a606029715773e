"""Throughput: N emails through each --workers configuration at SES latency 0 and 50 ms.

One Celery worker per configuration: the shipped command, its prefork processes ×
sender threads as shipped or as the configuration sets them. Live: the worker runs
(warmed up) while the emails are enqueued, one committed transaction each; time
from the first commit until the fake SES accepted the last. Pre-filled: the N
emails are queued first, then the worker starts. Worker CPU per email (the worker
and its prefork children) from psutil cpu_times before/after. ``throughput`` also
serves the profile scenario, ``throughput_prefilled`` and ``prefilled_table`` the
tuning one.
"""

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.harness import (
    PROCS,
    SES,
    WORKER,
    Bench,
    Config,
    cpu_seconds,
    enqueue_one,
    label,
    reset_outbox,
    server_cpu_seconds,
    start_worker,
    stop_worker,
    warm_up,
)
from bench.report import Section, md


def throughput_prefilled(ses: SES, n: int, config: Config, latency_ms: float) -> dict:
    """N emails queued before the worker starts: the worker alone, no producer competing for the CPUs.

    Rate from the first to the last SES arrival; CPU from the first accepted send on
    (start-up excluded, each thread's first SES connection included).
    """
    reset_outbox()
    for i in range(n):
        enqueue_one(f"p{i}@example.com")
    ses.configure(latency_ms=latency_ms)
    worker = start_worker(config, tag="p")
    try:
        ses.wait_accepted(1, timeout=120)
        cpu0, accepted0, server0 = cpu_seconds(worker), ses.stats()["accepted"], server_cpu_seconds()
        stats = ses.wait_accepted(n, timeout=max(120, n / 5))
        cpu1, server1 = cpu_seconds(worker), server_cpu_seconds()
    finally:
        stop_worker(worker)
    arrivals = sorted(arrived for arrived, _, _ in ses.log())
    return {
        "label": label(config),
        "latency_ms": latency_ms,
        "n": n,
        "total_s": arrivals[-1] - arrivals[0],
        "rate": (n - 1) / (arrivals[-1] - arrivals[0]),
        "cpu_ms": (cpu1 - cpu0) * 1000 / (n - accepted0),
        "server_cpu_ms": (server1 - server0) * 1000 / (n - accepted0),
        "ses_max_in_flight": stats["max_in_flight"],
        "errors": stats["requests"] - stats["accepted"],
    }


def prefilled_table(results: list[dict], *, latency: bool = True) -> str:
    """The pre-filled runs' table; without ``latency``, no SES latency column (all alike)."""
    return md(
        [
            WORKER,
            *(["SES latency"] if latency else []),
            "s",
            "emails/s",
            "worker CPU ms/email",
            "PostgreSQL + Redis CPU ms/email",
            "max SES requests in flight",
            "SES errors",
        ],
        [
            [
                r["label"],
                *([f"{r['latency_ms']:.0f} ms"] if latency else []),
                f"{r['total_s']:.1f}",
                f"{r['rate']:.1f}",
                f"{r['cpu_ms']:.2f}",
                f"{r['server_cpu_ms']:.2f}",
                r["ses_max_in_flight"],
                r["errors"],
            ]
            for r in results
        ],
    )


def throughput(ses: SES, n: int, config: Config, latency_ms: float, profile: Path | None = None) -> dict:
    """Live: a warmed-up worker, then N emails enqueued; ``profile``: py-spy records the worker and its
    prefork children into that file."""
    reset_outbox()
    worker = start_worker(config, tag="t")
    spy = None
    try:
        warm_up(ses, config)
        ses.configure(latency_ms=latency_ms)
        if profile:
            spy = PROCS.start(
                [
                    str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--pid",
                    str(worker.pid),
                    "--subprocesses",
                    "--gil",
                    "--nonblocking",
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "-o",
                    str(profile),
                ],
                log="py-spy.log",
            )
            time.sleep(1.0)
        cpu0, ses_cpu0, server0 = cpu_seconds(worker), ses.stats()["cpu_seconds"], server_cpu_seconds()
        started = time.time()
        for i in range(n):
            enqueue_one(f"t{i}@example.com")
        enqueued = time.time() - started
        stats = ses.wait_accepted(n, timeout=max(120, n / 5))
        cpu1, server1 = cpu_seconds(worker), server_cpu_seconds()
        if spy:
            PROCS.stop(spy, sig=signal.SIGINT, timeout=60)
    finally:
        stop_worker(worker)
    last = max(accepted for _, accepted, _ in ses.log())
    return {
        "label": label(config),
        "latency_ms": latency_ms,
        "n": n,
        "enqueue_s": enqueued,
        "total_s": last - started,
        "rate": n / (last - started),
        "cpu_ms": (cpu1 - cpu0) * 1000 / n,
        "ses_cpu_us": (stats["cpu_seconds"] - ses_cpu0) * 1e6 / n,
        "server_cpu_ms": (server1 - server0) * 1000 / n,
        "ses_max_in_flight": stats["max_in_flight"],
        "errors": stats["requests"] - stats["accepted"],
    }


def run(bench: Bench) -> Iterator[Section]:
    """Live, then pre-filled, each --workers configuration at 0 and 50 ms."""
    n = bench.n
    results = [throughput(bench.ses, n, config, latency_ms) for config in bench.workers for latency_ms in (0, 50)]
    yield Section(
        f"Throughput: {n} emails, first commit → last accepted by SES",
        md(
            [
                WORKER,
                "SES latency",
                "enqueue (producer) s",
                "total s",
                "emails/s",
                "worker CPU ms/email",
                "PostgreSQL + Redis CPU ms/email (enqueue side included)",
                "fake SES CPU µs/email",
                "max SES requests in flight",
                "SES errors",
            ],
            [
                [
                    r["label"],
                    f"{r['latency_ms']:.0f} ms",
                    f"{r['enqueue_s']:.1f}",
                    f"{r['total_s']:.1f}",
                    f"{r['rate']:.1f}",
                    f"{r['cpu_ms']:.2f}",
                    f"{r['server_cpu_ms']:.2f}",
                    f"{r['ses_cpu_us']:.0f}",
                    r["ses_max_in_flight"],
                    r["errors"],
                ]
                for r in results
            ],
        ),
    )

    prefilled = [
        throughput_prefilled(bench.ses, n, config, latency_ms) for config in bench.workers for latency_ms in (0, 50)
    ]
    yield Section(
        f"Throughput, queue pre-filled: {n} emails queued, then the worker starts; first → last SES arrival",
        prefilled_table(prefilled),
    )
