"""Tuning: the --tune configurations (prefork processes × sender threads) compared, queue pre-filled, SES 50 ms."""

from collections.abc import Iterator

from bench.harness import Bench
from bench.report import Section
from bench.scenarios.throughput import prefilled_table, throughput_prefilled


def run(bench: Bench) -> Iterator[Section]:
    tuned = [throughput_prefilled(bench.ses, bench.n, config, 50) for config in bench.tune]
    yield Section(
        f"Tuning: prefork processes × sender threads, queue pre-filled ({bench.n} emails), SES latency 50 ms",
        prefilled_table(tuned, latency=False),
    )
