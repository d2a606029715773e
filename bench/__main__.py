"""Benchmarks of the mail pipeline: ``make bench`` (or ``python -m bench [--quick]``).

Starts what it needs (a fake SES on aiohttp, Celery workers) and stops all of it
again, even on Ctrl-C or an error. Uses its own PostgreSQL database
(electnepal_bench, dropped and created) and Redis database 14 (flushed).

0. Fake SES capacity: an aiohttp client with 64 concurrent connections against
   bench/fake_ses.py at 0 and 50 ms, to show it is not the bottleneck. CPU floor:
   render + MIME + one SES request per email, one thread, no queue or database.
1. Request share: µs per ``mailer.api.enqueue`` in a committed transaction (insert
   + on-commit publish to Redis), median and p99, with no worker running; and a
   sign-up POST (Django test client, rate limits off) with SES latency 0 vs 2 s,
   200 each, in alternating blocks.
2. Throughput: N emails enqueued (one committed transaction each) while 1 × 16
   or --workers (3 × 12) worker processes × threads (``celery -A worker worker
   --pool=threads``) run; time from the first commit until the fake SES accepted
   the last one, at SES latency 0 and 50 ms; worker CPU ms per email (psutil
   cpu_times before/after, after a warm-up). Then the same with the N emails
   queued before the workers start, and --tune's configurations at 50 ms.
3. Latency: an open-loop producer enqueues at a steady 100 emails/s; commit →
   accepted by SES (matched by To address), p50/p90/p99. Priority: password
   resets at 10/s while N bulk emails drain.
4. Limiter: 4 worker processes, MAILER_MAX_SEND_RATE=50, the fake SES refusing
   more than 50 sends in any sliding second: achieved rate, busiest second,
   emails accepted in the first 10 s, throttled answers (target 0).
5. Profile: py-spy (--gil, non-blocking) on one worker at 0 ms latency.
6. Cleanup: bench/cleanup.py (1,000,000 expired tokens; 100,000 with --quick).

Writes one markdown report to bench/results/pipeline-<timestamp>.md (gitignored)
and the console. Not part of the tests.
"""

import argparse
import sys

from bench import harness
from bench.harness import PROCS
from bench.report import Report
from bench.scenarios import (capacity, cleanup, enqueue, floor, latency, limiter, priority, profile, signup,
                             throughput, tune)

# In the order they run; the names are those of --skip.
SCENARIOS = [
    ("capacity", capacity), ("enqueue", enqueue), ("floor", floor), ("throughput", throughput), ("tune", tune),
    ("profile", profile), ("latency", latency), ("priority", priority), ("limiter", limiter), ("signup", signup),
    ("cleanup", cleanup),
]


def _configs(text: str) -> list[tuple[int, int]]:
    """``"1x8,3x8"`` → [(1, 8), (3, 8)]: worker processes × threads."""
    return [tuple(int(n) for n in item.split("x")) for item in text.split(",") if item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller N everywhere (a smoke run, ~2 min)")
    parser.add_argument("--emails", type=int, default=None, help="emails per throughput run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="threads per worker process")
    parser.add_argument("--pool", default="threads", choices=["threads", "gevent"], help="Celery worker pool")
    parser.add_argument("--workers", type=_configs, default="3x12",
                        help="processes x threads for throughput, latency and priority (default %(default)s)")
    parser.add_argument("--tune", type=_configs, default="1x8,2x8,3x8,4x8,3x12,2x24",
                        help="worker processes x threads to compare at 50 ms (default %(default)s)")
    parser.add_argument("--headroom", type=lambda text: [float(h) for h in text.split(",")], default="0.015,0.01",
                        help="MAILER_RATE_HEADROOM values for the limiter scenario (default %(default)s)")
    parser.add_argument("--ses-port", type=int, default=5799)
    parser.add_argument("--cleanup-rows", type=int, default=None, help="default 1,000,000 (100,000 with --quick)")
    parser.add_argument("--skip", default="", help="comma-separated: capacity,floor,enqueue,throughput,tune,profile,"
                                                    "latency,priority,limiter,signup,cleanup")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    harness.setup_environment(args.ses_port, args.pool)
    report = Report(args.pool, args.concurrency)
    try:
        bench = harness.Bench(
            ses=harness.start(args.ses_port), quick=args.quick, n=args.emails or (400 if args.quick else 2000),
            concurrency=args.concurrency, best=args.workers[0], tune=args.tune, headroom=args.headroom,
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
