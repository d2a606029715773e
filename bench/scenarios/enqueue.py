"""Request share: µs per ``mailer.api.enqueue`` in a committed transaction (insert + on-commit publish), no worker."""

import statistics
import time
from collections.abc import Iterator

from bench.harness import CONTEXT, Bench, percentile, reset_outbox
from bench.report import Section, md


def measure_enqueue(n: int) -> tuple[list[float], list[float]]:
    from django.db import transaction

    from mailer import api

    inserts, totals = [], []
    for i in range(n):
        started = time.perf_counter()
        with transaction.atomic():
            api.enqueue(template="accounts/email/welcome", to=f"user{i}@example.com", context=CONTEXT)
            inserted = time.perf_counter()
        totals.append((time.perf_counter() - started) * 1e6)
        inserts.append((inserted - started) * 1e6)
    return inserts, totals


def run(bench: Bench) -> Iterator[Section]:
    reset_outbox()
    inserts, totals = measure_enqueue(bench.n)
    yield Section(
        "Request share: enqueue (no worker running)",
        md(
            ["measure", "value"],
            [
                ["enqueues", bench.n],
                ["enqueue() inside the caller's transaction, median", f"{statistics.median(inserts):.0f} µs"],
                ["enqueue + commit + publish, median", f"{statistics.median(totals):.0f} µs"],
                ["enqueue + commit + publish, p99", f"{percentile(totals, 0.99):.0f} µs"],
            ],
        ),
    )
