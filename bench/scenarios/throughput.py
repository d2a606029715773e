"""Throughput: N emails through worker processes × threads at SES latency 0 and 50 ms.

Live: the workers run (warmed up) while the emails are enqueued, one committed
transaction each; time from the first commit until the fake SES accepted the last.
Pre-filled: the N emails are queued first, then the workers start. Worker CPU per
email from psutil cpu_times before/after. ``throughput`` also serves the profile
scenario, ``throughput_prefilled`` the tuning one.
"""

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.harness import (PROCS, SES, Bench, cpu_seconds, enqueue_one, reset_outbox, server_cpu_seconds,
                           start_workers, stop_workers, warm_up)
from bench.report import Section, md


def throughput_prefilled(ses: SES, n: int, workers_count: int, concurrency: int, latency_ms: float) -> dict:
    """N emails queued before any worker starts: the workers alone, no producer competing for the CPUs.

    Rate from the first to the last SES arrival; CPU from the first accepted send on
    (start-up excluded, each thread's first SES client included).
    """
    reset_outbox()
    for i in range(n):
        enqueue_one(f"p{i}@example.com")
    ses.configure(latency_ms=latency_ms)
    workers = start_workers(workers_count, concurrency, tag="p")
    try:
        ses.wait_accepted(1, timeout=120)
        cpu0, accepted0, server0 = cpu_seconds(workers), ses.stats()["accepted"], server_cpu_seconds()
        stats = ses.wait_accepted(n, timeout=max(120, n / 5))
        cpu1, server1 = cpu_seconds(workers), server_cpu_seconds()
    finally:
        stop_workers(workers)
    arrivals = sorted(arrived for arrived, _, _ in ses.log())
    return {
        "workers": workers_count, "concurrency": concurrency, "latency_ms": latency_ms, "n": n,
        "total_s": arrivals[-1] - arrivals[0], "rate": (n - 1) / (arrivals[-1] - arrivals[0]),
        "cpu_ms": (cpu1 - cpu0) * 1000 / (n - accepted0),
        "server_cpu_ms": (server1 - server0) * 1000 / (n - accepted0),
        "ses_max_in_flight": stats["max_in_flight"], "errors": stats["requests"] - stats["accepted"],
    }


def throughput(ses: SES, n: int, workers_count: int, concurrency: int, latency_ms: float,
               profile: Path | None = None) -> dict:
    """Live: warmed-up workers, then N emails enqueued; ``profile``: py-spy records worker 0 into that file."""
    reset_outbox()
    workers = start_workers(workers_count, concurrency, tag="t")
    spy = None
    try:
        warm_up(ses, workers, concurrency)
        ses.configure(latency_ms=latency_ms)
        if profile:
            spy = PROCS.start([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(workers[0].pid),
                               "--gil", "--nonblocking", "--rate", "250", "--format", "raw", "-o", str(profile)],
                              log="py-spy.log")
            time.sleep(1.0)
        cpu0, ses_cpu0, server0 = cpu_seconds(workers), ses.stats()["cpu_seconds"], server_cpu_seconds()
        started = time.time()
        for i in range(n):
            enqueue_one(f"t{i}@example.com")
        enqueued = time.time() - started
        stats = ses.wait_accepted(n, timeout=max(120, n / 5))
        cpu1, server1 = cpu_seconds(workers), server_cpu_seconds()
        if spy:
            PROCS.stop(spy, sig=signal.SIGINT, timeout=60)
    finally:
        stop_workers(workers)
    last = max(accepted for _, accepted, _ in ses.log())
    return {
        "workers": workers_count, "concurrency": concurrency, "latency_ms": latency_ms, "n": n,
        "enqueue_s": enqueued, "total_s": last - started, "rate": n / (last - started),
        "cpu_ms": (cpu1 - cpu0) * 1000 / n, "ses_cpu_us": (stats["cpu_seconds"] - ses_cpu0) * 1e6 / n,
        "server_cpu_ms": (server1 - server0) * 1000 / n,
        "ses_max_in_flight": stats["max_in_flight"], "errors": stats["requests"] - stats["accepted"],
    }


def run(bench: Bench) -> Iterator[Section]:
    """Live, then pre-filled, each with 1 × --concurrency and --workers, at 0 and 50 ms."""
    configs = ((1, bench.concurrency), bench.best)
    n = bench.n
    results = [throughput(bench.ses, n, w, c, latency_ms) for w, c in configs for latency_ms in (0, 50)]
    yield Section(f"Throughput: {n} emails, first commit → last accepted by SES", md(
        ["worker processes × threads", "SES latency", "enqueue (producer) s", "total s", "emails/s",
         "worker CPU ms/email", "PostgreSQL + Redis CPU ms/email (enqueue side included)",
         "fake SES CPU µs/email", "max SES requests in flight", "SES errors"],
        [[f"{r['workers']} × {r['concurrency']}", f"{r['latency_ms']:.0f} ms", f"{r['enqueue_s']:.1f}",
          f"{r['total_s']:.1f}", f"{r['rate']:.1f}", f"{r['cpu_ms']:.2f}", f"{r['server_cpu_ms']:.2f}",
          f"{r['ses_cpu_us']:.0f}", r["ses_max_in_flight"], r["errors"]] for r in results]))

    prefilled = [throughput_prefilled(bench.ses, n, w, c, latency_ms) for w, c in configs for latency_ms in (0, 50)]
    yield Section(f"Throughput, queue pre-filled: {n} emails queued, then the workers start; "
                  "first → last SES arrival", md(
        ["worker processes × threads", "SES latency", "s", "emails/s", "worker CPU ms/email",
         "PostgreSQL + Redis CPU ms/email", "max SES requests in flight", "SES errors"],
        [[f"{r['workers']} × {r['concurrency']}", f"{r['latency_ms']:.0f} ms", f"{r['total_s']:.1f}",
          f"{r['rate']:.1f}", f"{r['cpu_ms']:.2f}", f"{r['server_cpu_ms']:.2f}",
          r["ses_max_in_flight"], r["errors"]] for r in prefilled]))
