"""Benchmarks: ``make bench`` (or ``python -m bench [--emails N]``).

1. Request share: µs per ``mailer.api.enqueue`` in a committed transaction (insert +
   on-commit publish to Redis), median and p99, with no worker competing for CPU.
2. Throughput: one worker process (``celery -A worker worker``) delivers those N
   emails through django-ses → HTTP → a local SES (moto, in its own process);
   emails/s from the first to the last ``sent_at``.

Uses its own PostgreSQL database (electnepal_bench) and Redis database (14).
Writes a markdown table to bench/results/ and the console. Not part of the tests.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "electnepal_bench"
ENV = {
    "DJANGO_SETTINGS_MODULE": "electnepal.settings",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": "redis://127.0.0.1:6379/14",
    "SECRET_KEY": "bench-only",
    "SITE_URL": "https://electnepal.test",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SES_REGION_NAME": "us-east-1",
    "DEFAULT_FROM_EMAIL": "ElectNepal <no-reply@electnepal.test>",
    "LOG_DIR": str(ROOT / "var" / "bench-logs"),
    # Throughput, not the account's send rate, is measured here.
    "MAILER_MAX_SEND_RATE": "10000",
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env={**os.environ, **ENV})


def start_ses(port: int, kind: str) -> subprocess.Popen:
    command = (
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        if kind == "moto"
        else [sys.executable, "-m", "tests.support.fake_ses", str(port), "/dev/null"]
    )
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import boto3

    client = boto3.client(
        "sesv2", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_email_identity(EmailIdentity="no-reply@electnepal.test")
            return process
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def measure_enqueue(n: int) -> tuple[list[float], list[float]]:
    import django

    django.setup()
    from django.db import transaction

    from mailer import api

    inserts, totals = [], []
    context = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}
    for i in range(n):
        started = time.perf_counter()
        with transaction.atomic():
            api.enqueue(template="accounts/email/welcome", to=f"user{i}@example.com", context=context)
            inserted = time.perf_counter()
        totals.append((time.perf_counter() - started) * 1e6)
        inserts.append((inserted - started) * 1e6)
    return inserts, totals


def measure_delivery(n: int, concurrency: int, timeout: float) -> tuple[float, float, int]:
    """Start one worker, wait until N rows are final; return (emails/s, CPU ms per email, sent)."""
    from django.db.models import Max, Min

    from mailer.models import Email

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool=threads",
         f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env={**os.environ, **ENV},
    )
    try:
        deadline = time.monotonic() + timeout
        while Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists():
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for the worker")
            time.sleep(0.2)
        cpu = _cpu_seconds(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    sent = Email.objects.filter(status=Email.Status.SENT)
    span = sent.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    count = sent.count()
    return (count - 1) / seconds, cpu * 1000 / count, count


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--ses-port", type=int, default=5799)
    parser.add_argument("--ses", choices=["moto", "fake"], default="moto",
                        help="moto (stores every message) or a minimal fake that only answers")
    args = parser.parse_args()

    os.environ.update(ENV)
    os.environ["AWS_SES_REGION_ENDPOINT_URL"] = ENV["AWS_SES_REGION_ENDPOINT_URL"] = f"http://127.0.0.1:{args.ses_port}"
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import redis

    redis.Redis.from_url(ENV["REDIS_URL"]).flushdb()
    prepare_database()
    ses = start_ses(args.ses_port, args.ses)
    try:
        inserts, timings = measure_enqueue(args.emails)
        rate, cpu_ms, sent = measure_delivery(args.emails, args.concurrency, timeout=max(120, args.emails / 5))
    finally:
        ses.terminate()
        ses.wait(10)

    rows = [
        ("emails", f"{args.emails}"),
        ("enqueue() inside the caller's transaction, median", f"{statistics.median(inserts):.0f} µs"),
        ("enqueue + commit + publish, median", f"{statistics.median(timings):.0f} µs"),
        ("enqueue + commit + publish, p99", f"{percentile(timings, 0.99):.0f} µs"),
        (f"one worker (threads × {args.concurrency}) → django-ses → {args.ses}", f"{rate:.1f} emails/s"),
        ("worker CPU per email", f"{cpu_ms:.1f} ms"),
        ("sent", f"{sent}/{args.emails}"),
    ]
    table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
    print(table)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / time.strftime("pipeline-%Y%m%d-%H%M%S.md")).write_text(table)


if __name__ == "__main__":
    main()
