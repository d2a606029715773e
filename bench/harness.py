"""What every pipeline scenario stands on: the processes the bench starts, and the tools to measure them.

Processes (each in its own session, all stopped on exit), the fake SES's client
(``SES``), the benchmark database and the outbox reset, Redis, Celery workers
(docker-compose.yml's worker command, one worker per configuration of prefork
processes × sender threads), CPU accounting, ``enqueue_one``, warm-up, open-loop
pacing and percentiles; and
``django_env``/``create_database``, which bench.cleanup and bench.enumeration share.
Django and the project are imported inside the functions: ``setup_environment``
sets the environment they read, so nothing here may load them at import time.
"""

import functools
import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "electnepal_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
LOGS = ROOT / "var" / "bench-logs"


# The benchmarks' key: derived (the same in every process of a run), and as long as the
# settings ask for without DEBUG (electnepal/startup_checks.py).
SECRET_KEY = hashlib.sha256(b"electnepal-bench:" + str(ROOT).encode()).hexdigest()


def django_env(db_name: str, **settings: str) -> dict:
    """The environment a benchmark's Django runs in: its own database ``db_name``, no .env file, bench logs."""
    return {
        "DJANGO_SETTINGS_MODULE": "electnepal.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
        "SECRET_KEY": SECRET_KEY,
        "SITE_URL": "https://electnepal.test",
        "READ_DOT_ENV": "false",
        "LOG_DIR": str(LOGS),
        **settings,
    }


# Requests through Django's test client: its host, and no rate limit answering 429.
TEST_CLIENT = {
    "SITE_URL": "https://electnepal.test",
    "ALLOWED_HOSTS": "testserver",
    "RATELIMIT_ENABLE": "false",
    "SECURE_COOKIES": "false",
}
ENV = django_env(
    DB_NAME,
    REDIS_URL=REDIS_URL,
    **TEST_CLIENT,
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_SES_REGION_NAME="us-east-1",
    DEFAULT_FROM_EMAIL="ElectNepal <no-reply@electnepal.test>",
    # Throughput, not the account's send rate, is measured (except in the limiter scenario).
    MAILER_MAX_SEND_RATE="10000",
    # The sign-up timing is about the mail path; PBKDF2 (the same on every request) would drown it.
    PASSWORD_HASHERS="django.contrib.auth.hashers.MD5PasswordHasher",
)
CONTEXT = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}
PASSWORD = "kathmandu-valley-2082"

# A worker configuration: (prefork processes, sender threads per process); None keeps what ships.
Config = tuple[int | None, int | None]
SHIPPED: Config = (None, None)


# --- processes ------------------------------------------------------------------


class Processes:
    """Every process the bench starts, each in its own session; all stopped on exit."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen] = []

    def start(self, command: list[str], *, env: dict | None = None, log: str | None = None) -> subprocess.Popen:
        out = open(LOGS / log, "ab") if log else subprocess.DEVNULL
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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
    """bench/fake_ses.py, started on ``port``, and its control calls (stats, log, configure).

    ``hosts``: the addresses it listens on (127.0.0.1 unless given; ``url`` is on the
    first); ``options``: more of its command line (--rate, --latency-ms).
    """

    def __init__(
        self,
        port: int,
        *,
        hosts: tuple[str, ...] = ("127.0.0.1",),
        options: tuple[str, ...] = (),
        log: str | None = "fake_ses.log",
    ) -> None:
        self.port = port
        self.url = self.url_on(hosts[0])
        argv = [sys.executable, "-m", "bench.fake_ses", "--port", str(port), *options]
        for host in hosts:
            argv += ["--host", host]
        self.process = PROCS.start(argv, log=log)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.stats()
                break
            except OSError as exc:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit(f"the fake SES did not start (see {LOGS / log})") from exc
                time.sleep(0.1)

    def url_on(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        PROCS.stop(self.process)

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

    def outage(self, on: bool) -> None:
        """Every send answered 503 ServiceUnavailable while ``on``; counters and log are kept."""
        self._call("/outage", {"on": on})

    def wait_accepted(self, n: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while (stats := self.stats())["accepted"] < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out: the fake SES accepted {stats['accepted']}/{n} ({stats})")
            time.sleep(0.05)
        return stats


# --- what the scenarios get -------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """The running fake SES and the command line's choices, handed to every scenario."""

    ses: SES
    quick: bool
    n: int  # --emails: per enqueue, floor, throughput, tuning, profile and priority run
    workers: list[Config]  # --workers: throughput; the first also latency, priority and the profile
    tune: list[Config]
    headroom: list[float]
    cleanup_rows: int


def setup_environment(ses_port: int) -> None:
    """Signals stop the bench cleanly, the logs start empty, and this process and its children see ENV."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()
    ENV["AWS_SES_REGION_ENDPOINT_URL"] = f"http://127.0.0.1:{ses_port}"
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)


def start(ses_port: int) -> SES:
    """A new benchmark database, Django set up on it, an empty outbox, and the fake SES running."""
    create_database(DB_NAME, ENV)
    import django

    django.setup()
    reset_outbox()
    return SES(ses_port)


# --- database, Redis, workers -----------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def create_database(name: str, env: dict) -> None:
    """Drop and create PostgreSQL database ``name``, then migrate it with ``env`` (which must point at it)."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env={**os.environ, **env})


def reset_outbox() -> None:
    """No email row, no message, no limiter state: every scenario starts empty."""
    import redis
    from django.db import connection

    from mailer.models import Email

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Email._meta.db_table} CASCADE")
    redis.Redis.from_url(REDIS_URL).flushdb()


@functools.cache
def worker_command() -> tuple[str, ...]:
    """The worker's command as it ships: docker-compose.yml, ``services.worker.command`` (a string or a list)."""
    import yaml

    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]["command"]
    argv = tuple(shlex.split(command) if isinstance(command, str) else map(str, command))
    if not argv or argv[0] != "celery":
        raise SystemExit(f"docker-compose.yml: the worker's command does not start with celery: {argv}")
    return argv


def resolved(config: Config) -> tuple[int, int]:
    """(prefork processes, sender threads) that ``config`` runs, None filled in with what ships.

    Processes: the shipped command's --concurrency/-c, else Celery's default, one per
    core. Threads: MAILER_SEND_THREADS as the workers' settings read it.
    """
    from django.conf import settings

    processes, threads = config
    if processes is None:
        argv = worker_command()
        processes = os.cpu_count() or 1
        for i, arg in enumerate(argv):
            if arg.startswith("--concurrency="):
                processes = int(arg.partition("=")[2])
            elif arg in ("--concurrency", "-c") and i + 1 < len(argv):
                processes = int(argv[i + 1])
    return processes, settings.MAILER_SEND_THREADS if threads is None else threads


WORKER = "worker: processes × sender threads"  # the column that label() fills


def label(config: Config) -> str:
    """A row's name: ``as shipped (2 × 16)``, or ``2 × 32``."""
    processes, threads = resolved(config)
    return f"as shipped ({processes} × {threads})" if config == SHIPPED else f"{processes} × {threads}"


def start_worker(config: Config, env: dict | None = None, tag: str = "") -> subprocess.Popen:
    """One Celery worker, started with exactly the shipped command (its prefork children are the processes).

    Added: ``-n bench<tag>@%h``; ``--concurrency=<processes>`` and
    MAILER_SEND_THREADS=<threads> where ``config`` sets them.
    """
    processes, threads = config
    argv = [sys.executable, "-m", *worker_command(), "-n", f"bench{tag}@%h"]
    if processes is not None:
        argv.append(f"--concurrency={processes}")
    sender_threads = {} if threads is None else {"MAILER_SEND_THREADS": str(threads)}
    return PROCS.start(argv, env={**ENV, **sender_threads, **(env or {})}, log=f"worker{tag}.log")


def stop_worker(worker: subprocess.Popen) -> None:
    PROCS.stop(worker)


def cpu_seconds(worker: subprocess.Popen) -> float:
    """CPU seconds used so far by the worker and its prefork children."""
    import psutil

    total = 0.0
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


def warm_up(ses: SES, config: Config) -> None:
    """Bring the sender threads up to speed (thread pool, SES connections): 2 × processes × threads emails.

    The worker's processes warm themselves up at start (templates, the SES client,
    worker_process_init); this is about the threads and their connections.
    """
    processes, threads = resolved(config)
    n = 2 * processes * threads
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
