"""Tuning: the --tune worker processes × threads compared, queue pre-filled, SES latency 50 ms."""

from collections.abc import Iterator

from bench.harness import Bench
from bench.report import Section, md
from bench.scenarios.throughput import throughput_prefilled


def run(bench: Bench) -> Iterator[Section]:
    tuned = [throughput_prefilled(bench.ses, bench.n, w, c, 50) for w, c in bench.tune]
    yield Section(f"Tuning: threads per worker, queue pre-filled ({bench.n} emails), SES latency 50 ms", md(
        ["worker processes × threads", "s", "emails/s", "worker CPU ms/email",
         "PostgreSQL + Redis CPU ms/email", "max SES requests in flight", "SES errors"],
        [[f"{r['workers']} × {r['concurrency']}", f"{r['total_s']:.1f}", f"{r['rate']:.1f}",
          f"{r['cpu_ms']:.2f}", f"{r['server_cpu_ms']:.2f}", r["ses_max_in_flight"], r["errors"]]
         for r in tuned]))
