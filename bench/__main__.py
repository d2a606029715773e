"""Benchmarks of the mail pipeline: ``make bench`` (or ``python -m bench [--quick]``).

Starts what it needs (a fake SES on aiohttp, Celery workers) and stops all of it
again, even on Ctrl-C or an error. Uses its own PostgreSQL database
(electnepal_bench, dropped and created) and Redis database 14 (flushed).

Workers run exactly what ships: docker-compose.yml's worker command (Celery's
prefork pool, a process per core, each sending on MAILER_SEND_THREADS threads,
48 by default), one Celery worker per configuration, plus -n bench<tag>@%h. A
configuration is "shipped" or PxT: P prefork processes (--concurrency=P) × T
sender threads (MAILER_SEND_THREADS=T).

0. Fake SES capacity: an aiohttp client with 64 concurrent connections against
   bench/fake_ses.py at 0 and 50 ms, to show it is not the bottleneck. CPU floor:
   render + MIME + one SES request per email, one thread, no queue or database.
1. Request share: µs per ``mailer.api.enqueue`` in a committed transaction (insert
   + on-commit doorbell to Redis), median and p99, with no worker running; and a
   sign-up POST (Django test client, rate limits off, one worker as shipped) with
   SES latency 0 vs 2 s, 200 each, in alternating blocks.
2. Throughput: N emails enqueued (one committed transaction each) while the
   worker of each --workers configuration runs; time from the first commit until
   the fake SES accepted the last one, at SES latency 0 and 50 ms; worker CPU ms
   per email (the worker and its prefork children, psutil cpu_times before/after,
   after a warm-up). Then the same with the N emails queued before the worker
   starts, and --tune's configurations at 50 ms.
3. Latency: an open-loop producer enqueues at a steady 100 emails/s; commit →
   accepted by SES (matched by To address), p50/p90/p99. Priority: password
   resets at 10/s while N bulk emails drain. Both on the first --workers.
4. Limiter: one worker of 4 × 8, MAILER_MAX_SEND_RATE=50, the fake SES refusing
   more than 50 sends in any sliding second: achieved rate, busiest second,
   emails accepted in the first 10 s, throttled answers (target 0).
5. Profile: py-spy (--subprocesses --gil, non-blocking) on the first --workers at
   0 ms latency, summarised by stage of the delivery.
6. Cleanup: bench/cleanup.py (1,000,000 expired tokens; 100,000 with --quick).

Writes one markdown report to bench/results/pipeline-<timestamp>.md (gitignored)
and the console. Not part of the tests.
"""

import argparse
import shlex
import sys

from bench import harness
from bench.harness import PROCS, SHIPPED, Config
from bench.report import Report
from bench.scenarios import (
    capacity,
    cleanup,
    enqueue,
    floor,
    latency,
    limiter,
    priority,
    profile,
    signup,
    throughput,
    tune,
)

# In the order they run; the names are those of --skip.
SCENARIOS = [
    ("capacity", capacity),
    ("enqueue", enqueue),
    ("floor", floor),
    ("throughput", throughput),
    ("tune", tune),
    ("profile", profile),
    ("latency", latency),
    ("priority", priority),
    ("limiter", limiter),
    ("signup", signup),
    ("cleanup", cleanup),
]


def _configs(text: str) -> list[Config]:
    """``"shipped,2x32"`` → [(None, None), (2, 32)]: prefork processes × sender threads, None as shipped."""
    configs = []
    for item in filter(None, text.split(",")):
        if item == "shipped":
            configs.append(SHIPPED)
            continue
        processes, _, threads = item.partition("x")
        if not (processes.isdigit() and threads.isdigit() and int(processes) and int(threads)):
            raise argparse.ArgumentTypeError(f"{item!r}: want shipped or PROCESSESxTHREADS, e.g. 2x32")
        configs.append((int(processes), int(threads)))
    if not configs:
        raise argparse.ArgumentTypeError("no configuration")
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller N everywhere (a smoke run, ~2 min)")
    parser.add_argument("--emails", type=int, default=None, help="emails per throughput run (default 2000)")
    parser.add_argument(
        "--workers",
        type=_configs,
        default="shipped",
        help="shipped or PxT (prefork processes x sender threads), comma-separated: throughput "
        "runs each, latency, priority and the profile the first (default %(default)s)",
    )
    parser.add_argument(
        "--tune",
        type=_configs,
        default="shipped,1x16,2x16,2x32,3x16,4x16",
        help="configurations to compare at 50 ms, queue pre-filled (default %(default)s)",
    )
    parser.add_argument(
        "--headroom",
        type=lambda text: [float(h) for h in text.split(",")],
        default="0.015,0.01",
        help="MAILER_RATE_HEADROOM values for the limiter scenario (default %(default)s)",
    )
    parser.add_argument("--ses-port", type=int, default=5799)
    parser.add_argument("--cleanup-rows", type=int, default=None, help="default 1,000,000 (100,000 with --quick)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated: capacity,floor,enqueue,throughput,tune,profile,latency,priority,limiter,signup,cleanup",
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    harness.setup_environment(args.ses_port)
    report = Report(shlex.join(harness.worker_command()))
    try:
        bench = harness.Bench(
            ses=harness.start(args.ses_port),
            quick=args.quick,
            n=args.emails or (400 if args.quick else 2000),
            workers=args.workers,
            tune=args.tune,
            headroom=args.headroom,
            cleanup_rows=args.cleanup_rows or (100_000 if args.quick else 1_000_000),
        )
        for name, scenario in SCENARIOS:
            if name not in skip:
                for section in scenario.run(bench):
                    report.add(section)
    finally:
        PROCS.stop_all()
    report.write()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        PROCS.stop_all()
        sys.exit("interrupted: every process the bench started is stopped")
