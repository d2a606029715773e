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
   throttled answers (target 0).
5. Profile: py-spy (--gil, non-blocking) on one worker at 0 ms latency.
6. Cleanup: bench/cleanup.py (1,000,000 expired tokens; 100,000 with --quick).

Writes one markdown report to bench/results/pipeline-<timestamp>.md (gitignored)
and the console. Not part of the tests.
"""

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "electnepal_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
LOGS = ROOT / "var" / "bench-logs"
ENV = {
    "DJANGO_SETTINGS_MODULE": "electnepal.settings",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-only",
    "READ_DOT_ENV": "false",
    "SITE_URL": "https://electnepal.test",
    "ALLOWED_HOSTS": "testserver",
    "RATELIMIT_ENABLE": "false",
    "SECURE_COOKIES": "false",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SES_REGION_NAME": "us-east-1",
    "DEFAULT_FROM_EMAIL": "ElectNepal <no-reply@electnepal.test>",
    "LOG_DIR": str(LOGS),
    # Throughput, not the account's send rate, is measured (except in the limiter scenario).
    "MAILER_MAX_SEND_RATE": "10000",
    # The sign-up timing is about the mail path; PBKDF2 (the same on every request) would drown it.
    "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
}
CONTEXT = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}
PASSWORD = "kathmandu-valley-2082"
POOL = "threads"  # --pool
BEST = (3, 12)  # --workers: processes × threads for the latency and priority scenarios


# --- processes ------------------------------------------------------------------

class Processes:
    """Every process the bench starts, each in its own session; all stopped on exit."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, command: list[str], *, env: dict | None = None, log: str | None = None) -> subprocess.Popen:
        out = open(LOGS / log, "ab") if log else subprocess.DEVNULL
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen, *, sig=signal.SIGTERM, timeout: float = 30) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, sig)  # its own group (start_new_session): pgid == pid
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
            except ProcessLookupError:
                pass
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(reversed(self.running)):
            self.stop(process, timeout=15)


PROCS = Processes()


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


# --- fake SES -------------------------------------------------------------------

class SES:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = PROCS.start([sys.executable, "-m", "bench.fake_ses", "--port", str(port)], log="fake_ses.log")
        deadline = time.monotonic() + 20
        while True:
            try:
                self.stats()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit("the fake SES did not start (see var/bench-logs/fake_ses.log)")
                time.sleep(0.1)

    def _call(self, path: str, data: dict | None = None):
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.url + path, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict:
        return self._call("/stats")

    def log(self) -> list[tuple[float, float, str]]:
        return self._call("/log")

    def configure(self, latency_ms: float = 0, rate: float = 0, fault_rate: float = 0) -> None:
        self._call("/config", {"latency_ms": latency_ms, "rate": rate, "fault_rate": fault_rate})

    def wait_accepted(self, n: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while (stats := self.stats())["accepted"] < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out: the fake SES accepted {stats['accepted']}/{n} ({stats})")
            time.sleep(0.05)
        return stats


def measure_fake_ses(ses: SES, seconds: float, latency_ms: float, concurrency: int = 64) -> tuple[float, float]:
    """(requests/s, fake SES CPU µs per request) under an aiohttp client with ``concurrency`` connections."""
    import base64

    import aiohttp

    mime = ("To: probe@example.com\r\nSubject: probe\r\n\r\n" + "x" * 12000).encode()
    body = json.dumps({"FromEmailAddress": "no-reply@electnepal.test",
                       "Content": {"Raw": {"Data": base64.b64encode(mime).decode()}}})
    ses.configure(latency_ms=latency_ms)
    cpu0 = ses.stats()["cpu_seconds"]

    async def run() -> int:
        done = 0
        deadline = time.monotonic() + seconds
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            async def one():
                nonlocal done
                while time.monotonic() < deadline:
                    async with session.post(ses.url + "/v2/email/outbound-emails", data=body,
                                            headers={"Content-Type": "application/json"}) as response:
                        await response.read()
                        done += response.status == 200
            await asyncio.gather(*(one() for _ in range(concurrency)))
        return done

    started = time.monotonic()
    done = asyncio.run(run())
    elapsed = time.monotonic() - started
    cpu = ses.stats()["cpu_seconds"] - cpu0
    return done / elapsed, cpu * 1e6 / max(done, 1)


# --- database, Redis, workers -----------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env={**os.environ, **ENV})


def reset_outbox() -> None:
    """No email row, no message, no limiter state: every scenario starts empty."""
    import redis
    from django.db import connection

    from mailer.models import Email

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Email._meta.db_table} CASCADE")
    redis.Redis.from_url(REDIS_URL).flushdb()


def start_workers(count: int, concurrency: int, env: dict | None = None, tag: str = "") -> list:
    return [
        PROCS.start(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", f"--pool={POOL}",
             f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-mingle", "--without-gossip",
             "--without-heartbeat", "-n", f"bench{tag}{i}@%h"],
            env={**ENV, **(env or {})}, log=f"worker{tag}{i}.log",
        )
        for i in range(count)
    ]


def stop_workers(workers: list) -> None:
    for worker in workers:
        PROCS.stop(worker)


def cpu_seconds(workers: list) -> float:
    import psutil

    total = 0.0
    for worker in workers:
        process = psutil.Process(worker.pid)
        for p in [process, *process.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system
    return total


def server_cpu_seconds() -> float:
    """CPU seconds used so far by every PostgreSQL and Redis server process on the machine (read only)."""
    import psutil

    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        name = process.info["name"] or ""
        if name.startswith(("postgres", "redis-server")) and process.info["cpu_times"]:
            total += process.info["cpu_times"].user + process.info["cpu_times"].system
    return total


def enqueue_one(to: str) -> None:
    from django.db import transaction

    from mailer import api

    with transaction.atomic():
        api.enqueue(template="accounts/email/welcome", to=to, context=CONTEXT)


def warm_up(ses: SES, workers: list, concurrency: int) -> None:
    """Bring every worker thread up to speed (imports, template cache, SES connection)."""
    n = 2 * concurrency * len(workers)
    ses.configure(latency_ms=200)  # overlapping sends spread the warm-up over the threads
    for i in range(n):
        enqueue_one(f"warm{i}@example.com")
    ses.wait_accepted(n, timeout=120)


def pace(started: float, i: int, rate: float) -> float:
    """Open loop: sleep until event ``i`` of a steady ``rate``/s begun at ``started``; return how late it is."""
    target = started + i / rate
    now = time.monotonic()
    if target > now:
        time.sleep(target - now)
        return 0.0
    return now - target


# --- scenarios --------------------------------------------------------------------

def cpu_floor(ses: SES, n: int) -> dict:
    """The floor of sending: render + MIME + one SES request per email, one thread, no queue or database.

    mailer.outbox.message.build_message (templates, css-inline, headers) and
    mailer.sending.transport.send (django-ses, the shared boto3 client) on unsaved rows, back
    to back, against the fake SES at 0 ms. CPU from time.process_time (this process only).
    """
    from mailer.models import Email
    from mailer.outbox.message import build_message
    from mailer.sending import transport

    ses.configure(latency_ms=0)
    emails = [Email(pk=i, template="accounts/email/welcome", to=f"floor{i}@example.com", context=CONTEXT,
                    language="ne" if i % 2 else "en") for i in range(n + 50)]
    for email in emails[:50]:  # warm: templates, client, connection
        transport.send(build_message(email))
    cpu0 = time.process_time()
    for email in emails[50:]:  # render + MIME alone
        build_message(email).message().as_bytes()
    render_cpu = time.process_time() - cpu0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for email in emails[50:]:
        transport.send(build_message(email))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"n": n, "cpu_ms": cpu * 1000 / n, "render_mime_ms": render_cpu * 1000 / n, "rate": n / wall}


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


def latency(ses: SES, rate: float, seconds: float, workers_count: int, concurrency: int, latency_ms: float) -> dict:
    reset_outbox()
    workers = start_workers(workers_count, concurrency, tag="l")
    try:
        warm_up(ses, workers, concurrency)
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
        stop_workers(workers)
    log = [entry for entry in ses.log() if entry[2] in committed]
    delays = [(accepted - committed[to]) * 1000 for _, accepted, to in log]
    arrivals = [(arrived - committed[to]) * 1000 for arrived, _, to in log]
    return {"n": n, "offered": n / produced, "behind_ms": behind * 1000, "workers": workers_count,
            "concurrency": concurrency, "latency_ms": latency_ms, "p50": percentile(delays, 0.5),
            "p90": percentile(delays, 0.9), "p99": percentile(delays, 0.99), "max": max(delays),
            "arrival_p50": percentile(arrivals, 0.5), "arrival_p99": percentile(arrivals, 0.99)}


def priority_under_backlog(ses: SES, backlog: int, rate: float, workers_count: int, concurrency: int,
                           latency_ms: float, rounds: int = 3) -> dict:
    """Password-reset emails (high priority, encrypted link, expiry) at ``rate``/s while ``backlog`` bulk drain.

    The workers are started and warmed up. Each round queues the bulk emails in one
    transaction and, from SES's first acceptance of one of them, commits resets one
    per transaction until 90 % of the backlog is sent. Commit → accepted per reset
    over all rounds, and how much bulk was still waiting at the last reset.
    """
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from mailer import api

    reset_outbox()
    workers = start_workers(workers_count, concurrency, tag="b")
    delays, bulk_after = [], []
    try:
        warm_up(ses, workers, concurrency)
        for round_ in range(rounds):
            ses.configure(latency_ms=latency_ms)  # counters and log start again
            committed = {}
            with transaction.atomic():
                api.enqueue(template="accounts/email/welcome",
                            to=[f"bulk{round_}x{i}@example.com" for i in range(backlog)], context=CONTEXT)
            ses.wait_accepted(1, timeout=120)
            started, i = time.monotonic(), 0
            while ses.stats()["accepted"] < backlog * 0.9:
                pace(started, i, rate)
                to = f"reset{round_}x{i}@example.com"
                with transaction.atomic():
                    api.enqueue(template="accounts/email/password_reset", to=to, priority=api.Priority.HIGH,
                                context={**CONTEXT, "ttl_hours": 24},
                                secret_context={"reset_url": f"https://electnepal.test/auth/reset-password/{i}/"},
                                expires_at=timezone.now() + timedelta(hours=24))
                committed[to] = time.time()
                i += 1
            ses.wait_accepted(backlog + len(committed), timeout=120)
            log = sorted(ses.log(), key=lambda entry: entry[1])
            for position, (_, accepted, to) in enumerate(log):
                if to in committed:
                    delays.append((accepted - committed[to]) * 1000)
                    bulk_after.append(sum(1 for _, _, other in log[position + 1:] if other.startswith("bulk")))
    finally:
        stop_workers(workers)
    return {"backlog": backlog, "resets": len(delays), "rounds": rounds, "rate": rate, "workers": workers_count,
            "concurrency": concurrency, "latency_ms": latency_ms, "p50": percentile(delays, 0.5),
            "p99": percentile(delays, 0.99), "max": max(delays), "bulk_after_last": min(bulk_after)}


def limiter(ses: SES, rate: float, seconds: float, workers_count: int, concurrency: int, latency_ms: float,
            warm: bool = False, headroom: float = 0.015) -> dict:
    """Cold: the emails are queued first and the workers start on them (start-up CPU included).
    Warm: the workers are started and warmed up first, then the emails are queued."""
    reset_outbox()
    n = int(rate * seconds)
    if not warm:
        for i in range(n):
            enqueue_one(f"lim{i}@example.com")
        ses.configure(latency_ms=latency_ms, rate=rate)
    workers = start_workers(workers_count, concurrency, env={"MAILER_MAX_SEND_RATE": str(rate),
                                                                          "MAILER_RATE_HEADROOM": str(headroom)},
                            tag="r")
    try:
        if warm:
            warm_up(ses, workers, concurrency)
            ses.configure(latency_ms=latency_ms, rate=rate)
            for i in range(n):
                enqueue_one(f"lim{i}@example.com")
        stats = ses.wait_accepted(n, timeout=seconds * 4 + 60)
    finally:
        stop_workers(workers)
    arrivals = sorted(arrived for arrived, _, _ in ses.log())
    busiest, j = 0, 0
    for i, t in enumerate(arrivals):  # sends in the sliding second ending at each arrival
        while arrivals[j] <= t - 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    throttled = stats.get("throttled", 0)
    gaps = sorted((b - a) * 1000 for a, b in zip(arrivals, arrivals[1:]))
    # Before the first throttled call's retry: the sends the limiter spaced, without backoff tails.
    first_pass = arrivals[: n - throttled]
    return {"n": n, "rate": rate, "workers": workers_count, "concurrency": concurrency, "latency_ms": latency_ms,
            "achieved": (n - 1) / (arrivals[-1] - arrivals[0]),
            "steady": (len(first_pass) - 1) / (first_pass[-1] - first_pass[0]), "busiest": busiest,
            "throttled": throttled, "throttled_after": [round(t - arrivals[0], 2) for t in stats["throttled_at"]],
            "faults": stats.get("fault", 0), "warm": warm, "headroom": headroom, "gap_min": gaps[0], "gap_p1": percentile(gaps, 0.01),
            "gap_p50": percentile(gaps, 0.5)}


def signup_latency(ses: SES, runs: int, latencies: tuple[float, ...], block: int = 10, warm: int = 3) -> dict:
    """Sign-up POSTs with the fake SES at each latency, in alternating blocks of ``block`` requests.

    Alternating (0, 2 s, 0, 2 s, …) rather than all of one then all of the other, so
    that the machine's drift over the run falls on both sides alike. After a block,
    the sends still waiting in the fake SES are let finish; each block then begins
    with ``warm`` untimed requests (the first requests after a pause ran ~30 % slower
    on both sides). The harness's own heap is frozen out of the garbage collector:
    a full collection of it took 60 ms, always at the same request, so on one side.
    """
    import gc
    import itertools

    from django.test import Client

    reset_outbox()
    workers = start_workers(1, 16, tag="s")
    client = Client()
    timings: dict[float, list[float]] = {latency_ms: [] for latency_ms in latencies}
    sequence = itertools.count()

    def post() -> float:
        name = f"s{next(sequence)}"
        data = {"username": name, "email": f"{name}@example.com", "first_name": "Sita", "last_name": "Sharma",
                "password1": PASSWORD, "password2": PASSWORD, "preferred_language": "en"}
        started = time.perf_counter()
        response = client.post("/auth/signup/", data)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code in (200, 302), response.status_code
        return elapsed

    try:
        client.get("/auth/signup/")
        gc.collect()
        gc.freeze()
        for start in range(0, runs, block):
            for latency_ms in latencies:
                ses.configure(latency_ms=latency_ms)
                for _ in range(warm):
                    post()
                timings[latency_ms] += [post() for _ in range(min(block, runs - start))]
                time.sleep(latency_ms / 1000 + 0.2)  # this block's sends leave the fake SES
    finally:
        gc.unfreeze()
        stop_workers(workers)
    return {latency_ms: (statistics.median(t), percentile(t, 0.99)) for latency_ms, t in timings.items()}


def summarize_profile(path: Path, cpu_ms_per_email: float, top: int = 15) -> str:
    """Where the worker's time goes, from py-spy's raw (collapsed) output.

    Three tables: the stages of email_deliver (its direct callees), the top
    functions by cumulative time outside the Celery/threading plumbing, and the top
    leaf frames (own time).
    """
    own, cumulative, stages, total = collections.Counter(), collections.Counter(), collections.Counter(), 0
    outside = collections.Counter()
    plumbing = ("threading.py", "celery/", "kombu/", "billiard/", "concurrent/futures", "click/", "runpy", "vine/")
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        names = [f.rsplit(":", 1)[0] + ")" if "(" in f and ":" in f else f for f in frames]  # drop line numbers
        own[names[-1]] += count
        for name in set(names):
            if not any(p in name for p in plumbing):
                cumulative[name] += count
        deliver = [i for i, name in enumerate(names) if name.startswith("email_deliver (")]
        if deliver:
            i = deliver[0]
            stages[names[i + 1] if i + 1 < len(names) else "email_deliver itself"] += count
        else:
            stages["(outside email_deliver: Celery consumer, task protocol, acks, Redis polling)"] += count
            leaf = names[-1]
            outside[leaf[leaf.rfind("(") + 1:].rstrip(")") if "(" in leaf else leaf] += count
    if not total:
        return "(no samples)\n"

    def table(counter, title, limit):
        rows = [f"| {title} | share | ≈ ms per email |", "| --- | --- | --- |"]
        for name, count in counter.most_common(limit):
            share = count / total
            rows.append(f"| `{name.replace('|', '/')}` | {share:.1%} | {share * cpu_ms_per_email:.2f} |")
        return "\n".join(rows) + "\n"

    return (f"{total} samples (py-spy --gil --nonblocking, 250 Hz; only the thread holding the GIL is sampled); "
            f"ms per email = share × measured worker CPU per email ({cpu_ms_per_email:.2f} ms)\n\n"
            + table(stages, "stage (direct callee of email_deliver)", 20) + "\n"
            + table(cumulative, "cumulative, outside Celery/kombu/threading", top) + "\n"
            + table(own, "own time (leaf frame)", top) + "\n"
            + table(outside, "outside email_deliver: own time by file", top))


def run_cleanup(rows: int) -> str:
    result = subprocess.run([sys.executable, "-m", "bench.cleanup", "--rows", str(rows)], cwd=ROOT,
                            capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                 if k not in ENV}, timeout=3600)
    if result.returncode:
        return f"cleanup failed:\n\n```\n{result.stderr[-2000:]}\n```\n"
    return result.stdout


# --- report -----------------------------------------------------------------------

def md(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


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
    quick = args.quick
    global POOL, BEST
    POOL, BEST = args.pool, args.workers[0]
    n = args.emails or (400 if quick else 2000)
    cleanup_rows = args.cleanup_rows or (100_000 if quick else 1_000_000)
    skip = set(filter(None, args.skip.split(",")))

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()
    ENV["AWS_SES_REGION_ENDPOINT_URL"] = f"http://127.0.0.1:{args.ses_port}"
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)

    report = [f"# Mail pipeline benchmark, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n",
              f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
              f"workers: `celery -A worker worker --pool={POOL} --concurrency={args.concurrency}`; "
              f"django-ses (SES v2) → bench/fake_ses.py (aiohttp); PostgreSQL {DB_NAME}, Redis db 14.\n"]

    def section(title: str, body: str) -> None:
        text = f"## {title}\n\n{body}"
        print(text, flush=True)
        report.append(text)

    try:
        prepare_database()
        import django

        django.setup()
        reset_outbox()
        ses = SES(args.ses_port)

        if "capacity" not in skip:
            rows = []
            for latency_ms in (0, 50):
                rps, cpu_us = measure_fake_ses(ses, 2 if quick else 4, latency_ms)
                rows.append([f"{latency_ms} ms", f"{rps:,.0f}", f"{cpu_us:.0f} µs"])
            section("Fake SES capacity (aiohttp client, 64 connections, 12 KB messages, same 2 CPUs)",
                    md(["SES latency", "requests/s accepted", "fake SES CPU per request"], rows))

        if "enqueue" not in skip:
            reset_outbox()
            inserts, totals = measure_enqueue(n)
            section("Request share: enqueue (no worker running)", md(["measure", "value"], [
                ["enqueues", n],
                ["enqueue() inside the caller's transaction, median", f"{statistics.median(inserts):.0f} µs"],
                ["enqueue + commit + publish, median", f"{statistics.median(totals):.0f} µs"],
                ["enqueue + commit + publish, p99", f"{percentile(totals, 0.99):.0f} µs"],
            ]))

        if "floor" not in skip:
            floor = cpu_floor(ses, n)
            section("CPU floor: render + MIME + one SES request per email (one thread, no queue, no database)",
                    md(["measure", "value"], [
                        ["emails", floor["n"]],
                        ["CPU per email", f"{floor['cpu_ms']:.2f} ms"],
                        ["of which render + MIME (measured apart)", f"{floor['render_mime_ms']:.2f} ms"],
                        ["emails/s on one core", f"{floor['rate']:.0f}"],
                    ]))

        results = []
        if "throughput" not in skip:
            for workers_count, concurrency in ((1, args.concurrency), BEST):
                for latency_ms in (0, 50):
                    results.append(throughput(ses, n, workers_count, concurrency, latency_ms))
            section(f"Throughput: {n} emails, first commit → last accepted by SES", md(
                ["worker processes × threads", "SES latency", "enqueue (producer) s", "total s", "emails/s",
                 "worker CPU ms/email", "PostgreSQL + Redis CPU ms/email (enqueue side included)",
                 "fake SES CPU µs/email", "max SES requests in flight", "SES errors"],
                [[f"{r['workers']} × {r['concurrency']}", f"{r['latency_ms']:.0f} ms", f"{r['enqueue_s']:.1f}",
                  f"{r['total_s']:.1f}", f"{r['rate']:.1f}", f"{r['cpu_ms']:.2f}", f"{r['server_cpu_ms']:.2f}", f"{r['ses_cpu_us']:.0f}",
                  r["ses_max_in_flight"], r["errors"]] for r in results]))

            prefilled = [throughput_prefilled(ses, n, w, c, lat) for w, c in ((1, args.concurrency), BEST)
                         for lat in (0, 50)]
            section(f"Throughput, queue pre-filled: {n} emails queued, then the workers start; "
                    "first → last SES arrival", md(
                ["worker processes × threads", "SES latency", "s", "emails/s", "worker CPU ms/email",
                 "PostgreSQL + Redis CPU ms/email", "max SES requests in flight", "SES errors"],
                [[f"{r['workers']} × {r['concurrency']}", f"{r['latency_ms']:.0f} ms", f"{r['total_s']:.1f}",
                  f"{r['rate']:.1f}", f"{r['cpu_ms']:.2f}", f"{r['server_cpu_ms']:.2f}",
                  r["ses_max_in_flight"], r["errors"]] for r in prefilled]))

        if "tune" not in skip:
            tuned = [throughput_prefilled(ses, n, w, c, 50) for w, c in args.tune]
            section(f"Tuning: threads per worker, queue pre-filled ({n} emails), SES latency 50 ms", md(
                ["worker processes × threads", "s", "emails/s", "worker CPU ms/email",
                 "PostgreSQL + Redis CPU ms/email", "max SES requests in flight", "SES errors"],
                [[f"{r['workers']} × {r['concurrency']}", f"{r['total_s']:.1f}", f"{r['rate']:.1f}",
                  f"{r['cpu_ms']:.2f}", f"{r['server_cpu_ms']:.2f}", r["ses_max_in_flight"], r["errors"]]
                 for r in tuned]))

        if "profile" not in skip and shutil.which("py-spy", path=str(Path(sys.executable).parent)):
            raw = ROOT / "var" / "bench-logs" / "worker-profile.txt"
            raw.unlink(missing_ok=True)
            r = throughput(ses, n, 1, args.concurrency, 0, profile=raw)
            body = (f"One worker × {args.concurrency} threads, SES latency 0 ms, {n} emails, "
                    f"{r['rate']:.1f} emails/s under the profiler, {r['cpu_ms']:.2f} ms CPU per email.\n\n")
            body += summarize_profile(raw, r["cpu_ms"]) if raw.exists() else "(py-spy wrote nothing)\n"
            section("Worker CPU profile (py-spy)", body)

        if "latency" not in skip:
            rows = []
            for latency_ms in (0, 50):
                r = latency(ses, 100, 5 if quick else 20, *BEST, latency_ms)
                rows.append([f"{r['workers']} × {r['concurrency']}", f"{r['latency_ms']:.0f} ms", r["n"],
                             f"{r['offered']:.1f}", f"{r['p50']:.1f}", f"{r['p90']:.1f}", f"{r['p99']:.1f}",
                             f"{r['max']:.1f}", f"{r['arrival_p50']:.1f} / {r['arrival_p99']:.1f}",
                             f"{r['behind_ms']:.1f}"])
            section("Latency: commit → accepted by SES at a steady 100 emails/s (open loop)", md(
                ["worker processes × threads", "SES latency", "emails", "offered /s", "p50 ms", "p90 ms",
                 "p99 ms", "max ms", "commit → request reaches SES, p50 / p99 ms", "producer max lag ms"], rows))

        if "priority" not in skip:
            rows = []
            for latency_ms in (0, 50):
                r = priority_under_backlog(ses, n, 10, *BEST, latency_ms)
                rows.append([f"{r['workers']} × {r['concurrency']}", f"{r['latency_ms']:.0f} ms",
                             f"{r['backlog']} × {r['rounds']}", r["resets"], f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['max']:.1f}",
                             r["bulk_after_last"]])
            section(f"Priority: password resets at 10/s while {n} bulk emails drain; commit → accepted by SES", md(
                ["worker processes × threads", "SES latency", "bulk queued × rounds", "resets", "p50 ms", "p99 ms", "max ms",
                 "bulk still unsent when a reset was accepted, fewest"], rows))

        if "limiter" not in skip:
            runs = [limiter(ses, 50, 4 if quick else 10, 4, 8, 50, warm=warm, headroom=headroom)
                    for headroom in args.headroom for warm in (False, True)]
            measures = [
                ("emails", lambda r: r["n"]),
                ("worker processes × threads", lambda r: f"{r['workers']} × {r['concurrency']}"),
                ("SES latency", lambda r: f"{r['latency_ms']:.0f} ms"),
                ("achieved rate, first → last accepted send (retries included)", lambda r: f"{r['achieved']:.1f} /s"),
                ("achieved rate of the first pass (the n − throttled first sends)", lambda r: f"{r['steady']:.1f} /s"),
                ("MAILER_RATE_HEADROOM → spacing target", lambda r: f"{r['headroom']:g} → "
                 f"{r['rate'] * (1 - r['headroom']):.1f} /s ({1000 / (r['rate'] * (1 - r['headroom'])):.1f} ms apart)"),
                ("busiest sliding second", lambda r: f"{r['busiest']} sends"),
                ("gap between consecutive SES arrivals: min / p1 / median",
                 lambda r: f"{r['gap_min']:.1f} / {r['gap_p1']:.1f} / {r['gap_p50']:.1f} ms"),
                ("throttling answers from SES", lambda r: r["throttled"]),
                ("throttled calls, seconds after the first send",
                 lambda r: ", ".join(map(str, r["throttled_after"][:20])) or "-"),
            ]
            section("Limiter: MAILER_MAX_SEND_RATE=50, fake SES throttling above 50 in any sliding second",
                    "Cold: the emails are queued, then the workers start. Warm: the workers are started and "
                    "warmed up, then the emails are queued.\n\n" + md(
                ["measure", *(f"{'warm' if r['warm'] else 'cold'}, headroom {r['headroom']:.1%}" for r in runs)],
                [[name, *(get(r) for r in runs)] for name, get in measures]))

        if "signup" not in skip:
            runs = 20 if quick else 200
            res = signup_latency(ses, runs, (0, 2000))
            section(f"Sign-up POST (test client, {runs} runs per latency in alternating blocks of 10 after 3 "
                    "untimed ones, MD5 hasher, rate limits off, one worker running)",
                    md(["SES latency", "median ms", "p99 ms"],
                       [[f"{k / 1000:g} s", f"{m:.2f}", f"{p:.2f}"] for k, (m, p) in res.items()]))

        PROCS.stop_all()  # the cleanup bench needs no worker or SES
        if "cleanup" not in skip:
            section(f"Cleanup (bench/cleanup.py --rows {cleanup_rows})", run_cleanup(cleanup_rows))
    finally:
        PROCS.stop_all()

    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    out = results_dir / time.strftime("pipeline-%Y%m%d-%H%M%S.md")
    out.write_text("\n".join(report))
    print(f"written to {out}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        PROCS.stop_all()
        sys.exit("interrupted: every process the bench started is stopped")
