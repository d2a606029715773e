"""Fault rows: what the outbox does when a worker, Redis, PostgreSQL or SES fails under a burst.

    python -m bench.faults [--emails N] [--only a,b] [--broker redis|amqp|redis,amqp]
                           [--outage-seconds 300] [--amplification-emails 10000] [--rolling-rate 14]

Everything runs for real on 127.0.0.1: a private Redis and a private PostgreSQL
(bench.services, free ports, thrown away at the end), the fake SES
(bench/fake_ses.py), and Celery workers started with exactly the command
docker-compose.yml ships (bench.harness.worker_command, plus ``-n``). Emails are
enqueued by this process with ``mailer.api.enqueue`` in committed transactions,
one email per transaction (as a web request does) unless a row says otherwise.
Under ``--broker amqp`` the broker is RabbitMQ (a vhost of its own for the run);
Redis still holds the limiter, the breaker and the doorbell keys.

Each row starts from an empty outbox, an empty Redis and empty queues, with fresh
workers, and ends when no email is left ``queued`` or ``sending``. It reports:

- sent: distinct addresses the fake SES accepted; lost: enqueued, never accepted;
  duplicated: acceptances beyond one per enqueued email;
- in flight at the fault: rows in ``sending`` at that moment (for a killed worker,
  the rows its processes had claimed);
- last email after the fault: from the fault (or from the recovery, for outages)
  to the last acceptance at the fake SES;
- broker messages: messages put on the ``mail`` and ``default`` queues during the
  row, per email enqueued (see ``RedisPushCounter`` and ``AmqpPublishCounter``);
- the rows' final statuses in the database.

The tables are printed at the end and written to var/bench-logs/faults.md (after
every row, so that an interrupted run keeps what it measured). Worker logs go to
var/bench-logs/worker-faults-*.log, email.log to var/bench-logs/faults/.
"""

import argparse
import collections
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import harness
from bench.harness import LOGS, PROCS, ROOT, SES
from bench.services import PrivatePostgres, PrivateRedis, free_port

DB_NAME = "electnepal_faults"
FAULT_LOGS = LOGS / "faults"
REPORT = LOGS / "faults.md"
AMQP_ROOT = "amqp://guest:guest@127.0.0.1:5672"
TEMPLATE = "accounts/email/welcome"
ALERT_TO = "ops@example.org"  # ADMINS of this process: where the provider alert email goes

# Short recovery, so that a row takes seconds: a dead worker's claims come back after
# about a lease, found by a keeper that runs this often. The shipped values are 30 and 5.
SHORT = {"MAILER_LEASE_SECONDS": "3", "MAILER_KEEPER_SECONDS": "0.5"}
SHIPPED_RECOVERY = {"MAILER_LEASE_SECONDS": "30", "MAILER_KEEPER_SECONDS": "5"}
# Sends take this long at the fake SES: sends are in flight when a fault strikes, as at SES.
SES_LATENCY_MS = 50
# Faults strike this long after the burst's first commit.
FAULT_AT = 1.0
# A killed process's last COMMIT may still be applied by PostgreSQL just after the kill:
# its claims are counted this long after it, so that rows it did record are not among them.
SETTLE_AFTER_KILL = 0.3
# A burst as fast as the machine goes: the account's quota is not what these rows measure
# (bench.harness.ENV sets MAILER_MAX_SEND_RATE=10000), except where a row sets a rate.
FAST = {"MAILER_MAX_SEND_RATE": harness.ENV["MAILER_MAX_SEND_RATE"]}


# --- measuring ----------------------------------------------------------------------


class RedisPushCounter:
    """Messages put on the broker's queues under the Redis transport, from ``redis-cli MONITOR``.

    kombu publishes a message with one LPUSH on the queue's list (the ``mail`` and
    ``default`` keys; a priority other than 0 would add a suffix), and puts an unacked
    message back (a worker's warm shutdown, or the visibility timeout) with LPUSH/RPUSH
    inside MULTI … EXEC: MONITOR shows every command with its client, so both are
    counted exactly and told apart. MONITOR, not INFO commandstats, because it names
    the key and survives nothing: the ``redis-cli`` is started again whenever it exits
    (Redis restarted), so at most the pushes of the few ms before it reconnects to a
    restarted Redis could be missed.
    """

    LINE = re.compile(r'^(\d+\.\d+) \[\d+ ([^\]]+)\] "(\w+)"(?: "((?:[^"\\]|\\.)*)")?')

    def __init__(self, port: int, queues: tuple[str, ...], path: Path) -> None:
        self.port, self.queues, self.path = port, queues, path
        self._stop = threading.Event()
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "RedisPushCounter":
        self.path.unlink(missing_ok=True)
        self._thread = threading.Thread(target=self._monitor, name="faults-monitor", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not (self.path.exists() and self.path.stat().st_size):  # MONITOR answers +OK once attached
            if time.monotonic() > deadline:
                raise RuntimeError("redis-cli MONITOR did not attach")
            time.sleep(0.02)
        return self

    def _monitor(self) -> None:
        while not self._stop.is_set():
            with open(self.path, "ab") as out:
                self._process = subprocess.Popen(
                    ["redis-cli", "-p", str(self.port), "MONITOR"], stdout=out, stderr=subprocess.DEVNULL
                )
            self._process.wait()
            self._stop.wait(0.02)  # Redis is down: ask again at once, it may be back

    def stop(self) -> list[tuple[float, str]]:
        """Stop monitoring; return (time, "published" | "restored") per message put on a queue."""
        self._stop.set()
        if self._process and self._process.poll() is None:
            self._process.terminate()
        if self._thread:
            self._thread.join(10)
        events, in_multi = [], set()
        with open(self.path, "rb") as lines:
            for raw in lines:
                match = self.LINE.match(raw.decode(errors="replace"))
                if not match:
                    continue
                at, client, command, key = match.groups()
                command = command.upper()
                if command == "MULTI":
                    in_multi.add(client)
                elif command in ("EXEC", "DISCARD"):
                    in_multi.discard(client)
                elif command in ("LPUSH", "RPUSH") and key is not None and self._is_queue(key):
                    events.append((float(at), "restored" if client in in_multi else "published"))
        self.path.unlink(missing_ok=True)
        return events

    def _is_queue(self, key: str) -> bool:
        return any(key == q or key.startswith(q + "\\x06\\x16") for q in self.queues)


class AmqpPublishCounter:
    """Messages published to the broker's queues under RabbitMQ, from its firehose tracer.

    ``rabbitmqctl trace_on`` (core RabbitMQ, no plugin: the management plugin is not
    enabled here) makes the vhost copy every publish to ``amq.rabbitmq.trace`` with
    the queues it was routed to (header ``routed_queues``); a queue of ours bound to
    ``publish.#`` counts them as they come. A message RabbitMQ hands to another
    consumer after its worker died is a redelivery, not a publish, and not counted;
    a publish routed to no queue is counted apart ("unrouted").
    """

    def __init__(self, url: str, queues: tuple[str, ...]) -> None:
        self.url, self.queues = url, set(queues)
        self.events: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> "AmqpPublishCounter":
        self._thread = threading.Thread(target=self._consume, name="faults-trace", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the RabbitMQ trace queue could not be consumed")
        return self

    def _on_message(self, message) -> None:
        headers = message.headers or {}
        routed = set(headers.get("routed_queues") or [])
        if routed & self.queues:
            self.events.append((time.time(), "published"))
        elif headers.get("exchange_name") in self.queues:
            self.events.append((time.time(), "unrouted"))

    def _consume(self) -> None:
        import socket

        from kombu import Connection, Consumer, Exchange, Queue

        with Connection(self.url) as conn:
            channel = conn.channel()
            trace = Queue(
                f"faults.trace.{uuid.uuid4().hex[:8]}",
                Exchange("amq.rabbitmq.trace", type="topic", passive=True),
                routing_key="publish.#",
                exclusive=True,
                auto_delete=True,
            )
            with Consumer(channel, [trace], on_message=self._on_message, no_ack=True):
                self._ready.set()
                while not self._stop.is_set():
                    with contextlib.suppress(socket.timeout, TimeoutError):
                        conn.drain_events(timeout=0.2)

    def stop(self) -> list[tuple[float, str]]:
        time.sleep(0.3)  # the trace copies of the last publishes are on their way
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        return list(self.events)


class Burst:
    """``n`` emails enqueued by a thread of this process, ``batch`` per committed transaction.

    Addresses are ``<prefix>-<i>@example.com``. A transaction that fails (PostgreSQL
    away) is tried again for the same addresses 0.2 s later, as the user of a failed
    request would; should a failed commit have reached the database after all, the
    outcome counts it by the rows there, not by what was meant to be enqueued.
    ``started``/``finished`` are time.time().
    """

    def __init__(self, prefix: str, n: int, batch: int = 1) -> None:
        self.prefix, self.n, self.batch = prefix, n, batch
        self.started = self.finished = 0.0
        self.failed_commits = 0
        self._thread = threading.Thread(target=self._run, name="faults-burst", daemon=True)

    def start(self) -> "Burst":
        self.started = time.time()
        self._thread.start()
        return self

    def done(self) -> bool:
        return not self._thread.is_alive()

    def _run(self) -> None:
        from django.db import DatabaseError, connection, transaction

        from mailer import api

        try:
            i = 0
            while i < self.n:
                addresses = [f"{self.prefix}-{j}@example.com" for j in range(i, min(self.n, i + self.batch))]
                try:
                    if len(addresses) == 1:
                        harness.enqueue_one(addresses[0])
                    else:
                        with transaction.atomic():
                            api.enqueue(template=TEMPLATE, to=addresses, context=harness.CONTEXT)
                except DatabaseError:
                    self.failed_commits += 1
                    connection.close()
                    time.sleep(0.2)
                    continue
                i += len(addresses)
        finally:
            self.finished = time.time()
            connection.close()


def db_retrying(query, default=None):
    """``query()``, or ``default`` when PostgreSQL does not answer (it is being restarted)."""
    from django.db import DatabaseError, connection

    try:
        return query()
    except DatabaseError:
        connection.close()
        return default


def unsettled() -> int | None:
    """Rows still ``queued`` or ``sending`` (None: the database does not answer)."""
    from mailer.models import Email

    return db_retrying(lambda: Email.objects.filter(status__in=[Email.Status.QUEUED, Email.Status.SENDING]).count())


def claims(pids: set[int] | None = None) -> list[tuple[int, str]]:
    """(id, address) of the rows in ``sending``; with ``pids``, only those claimed by these processes.

    A claim's owner is ``<host>:<pid>:<random>`` (mailer.outbox.delivery.Dispatcher).
    """
    from mailer.models import Email

    rows = db_retrying(
        lambda: list(Email.objects.filter(status=Email.Status.SENDING).values_list("id", "to", "claimed_by")), []
    )
    return [(pk, to) for pk, to, owner in rows if pids is None or _owner_pid(owner) in pids]


def _owner_pid(owner: str) -> int:
    parts = owner.split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else -1


def pool_pids(worker: subprocess.Popen) -> set[int]:
    """The pids of a worker's prefork processes."""
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        return {child.pid for child in psutil.Process(worker.pid).children()}
    return set()


@dataclass
class Outcome:
    """What the fake SES accepted against the rows in the database, for one row."""

    enqueued: int
    sent: int
    lost: int
    duplicated: int
    others: int  # accepted for an address no bench email had (the alert email)
    first_accepted: float
    last_accepted: float
    accepted_at: dict[str, float]  # address → its last acceptance
    statuses: collections.Counter
    max_attempts: int


def outcome(ses: SES) -> Outcome:
    from django.db.models import Max

    from mailer.models import Email

    rows = Email.objects.filter(template=TEMPLATE)
    wanted = collections.Counter(rows.values_list("to", flat=True))
    accepted = collections.Counter()
    accepted_at: dict[str, float] = {}
    times = []
    for _, at, to in ses.log():
        accepted[to] += 1
        accepted_at[to] = max(at, accepted_at.get(to, 0.0))
        if to in wanted:
            times.append(at)
    return Outcome(
        enqueued=sum(wanted.values()),
        sent=sum(1 for to in wanted if accepted[to]),
        lost=sum(1 for to in wanted if not accepted[to]),
        duplicated=sum(max(0, accepted[to] - wanted[to]) for to in wanted),
        others=sum(n for to, n in accepted.items() if to not in wanted),
        first_accepted=min(times, default=0.0),
        last_accepted=max(times, default=0.0),
        accepted_at=accepted_at,
        statuses=collections.Counter(Email.objects.values_list("status", flat=True)),
        max_attempts=rows.aggregate(most=Max("attempts"))["most"] or 0,
    )


@dataclass
class Row:
    """One line of the table, filled in by a fault function."""

    fault: str
    n: int
    settings: dict
    sent: int = 0
    lost: int = 0
    duplicated: int = 0
    in_flight: str = "–"
    after_fault: str = "–"
    messages: str = "–"
    statuses: str = "–"
    notes: list[str] = field(default_factory=list)


# --- the stack ------------------------------------------------------------------------


class Stack:
    """What every row of one broker runs on: private Redis and PostgreSQL, the fake SES, the broker, workers.

    ``begin`` empties everything and starts counting; workers started with ``worker``
    get the row's settings; ``finish`` waits until no email is queued or sending,
    stops the workers and measures.
    """

    def __init__(self, broker: str, redis: PrivateRedis, pg: PrivatePostgres, ses: SES) -> None:
        self.broker, self.redis, self.pg, self.ses = broker, redis, pg, ses
        from django.conf import settings

        self.queues = (settings.MAILER_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE)
        self.vhost = ""
        if broker == "amqp":
            self.vhost = f"electnepal-faults-{os.getpid()}"
            for args in (
                ["add_vhost", self.vhost],
                ["set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"],
                ["trace_on", "-p", self.vhost],
            ):
                rabbitmqctl(*args)
            self.broker_url = f"{AMQP_ROOT}/{self.vhost}"
        else:
            self.broker_url = redis.url
        self.base_env = {"CELERY_BROKER_URL": self.broker_url}
        self.workers: dict[str, subprocess.Popen] = {}
        self.env: dict = {}
        self._counter = None
        self.events: list[tuple[float, str]] = []  # the last row's broker messages (time, kind)

    def close(self) -> None:
        if self.vhost:
            with contextlib.suppress(Exception):
                rabbitmqctl("delete_vhost", self.vhost)

    def use(self) -> None:
        """Point this process's Celery app (its doorbells) at this stack's broker."""
        from django.conf import settings

        from worker import app

        settings.CELERY_BROKER_URL = self.broker_url
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url = self.broker_url
        app._pool = None
        app.amqp._producer_pool = None

    # --- a row ---

    def begin(self, name: str, n: int, env: dict, *, ses_rate: float = 0) -> Row:
        """Empty outbox, Redis and queues; the fake SES reset; counting from now on."""
        from django.db import connection

        from mailer.models import Email

        self.env = env
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Email._meta.db_table} CASCADE")
        import redis

        redis.Redis.from_url(self.redis.url).flushall()
        if self.broker == "amqp":
            for queue in self.queues:
                with contextlib.suppress(subprocess.CalledProcessError):
                    rabbitmqctl("purge_queue", "-p", self.vhost, queue)
        self.ses.configure(latency_ms=SES_LATENCY_MS, rate=ses_rate)
        if self.broker == "amqp":
            self._counter = AmqpPublishCounter(self.broker_url, self.queues).start()
        else:
            self._counter = RedisPushCounter(
                self.redis.port, self.queues, FAULT_LOGS / f"monitor-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
            ).start()
        shown = {**env, "SES latency": f"{SES_LATENCY_MS} ms"}
        if ses_rate:
            shown["SES rate"] = f"{ses_rate:g}/s"
        print(f"[{time.strftime('%H:%M:%S', time.gmtime())} UTC] {self.broker}: {name}, {n} emails", flush=True)
        return Row(fault=name, n=n, settings=shown)

    def worker(self, slot: str, env: dict | None = None) -> subprocess.Popen:
        """Start the shipped worker command as worker ``slot`` and wait until it consumes."""
        tag = f"-faults-{self.broker}-{slot}"
        log = LOGS / f"worker{tag}.log"
        offset = log.stat().st_size if log.exists() else 0
        process = harness.start_worker(harness.SHIPPED, env={**self.worker_env(), **(env or self.env)}, tag=tag)
        self.workers[slot] = process
        wait_ready(process, log, offset)
        return process

    def worker_env(self) -> dict:
        return {
            "DATABASE_URL": self.pg.url(DB_NAME),
            "REDIS_URL": self.redis.url,
            "LOG_DIR": str(FAULT_LOGS),
            "AWS_SES_REGION_ENDPOINT_URL": self.ses.url,
            **self.base_env,
        }

    def settle(self, burst: Burst, timeout: float) -> bool:
        """Wait until the burst is committed and no email is queued or sending; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if burst.done() and unsettled() == 0:
                time.sleep(0.5)  # a send answered after its row was recorded would still land
                return True
            time.sleep(0.25)
        return False

    def finish(
        self, row: Row, burst: Burst, *, settled: bool, fault_at: float | None = None, since: str = "the fault"
    ) -> Outcome:
        """Stop the workers, stop counting, and fill the row's common columns."""
        for slot in list(self.workers):
            stop_like_docker(self.workers.pop(slot), compose_stop_grace())
        events = self._counter.stop() if self._counter else []
        self._counter = None
        result = outcome(self.ses)
        row.sent, row.lost, row.duplicated = result.sent, result.lost, result.duplicated
        row.statuses = ", ".join(f"{status} {count}" for status, count in sorted(result.statuses.items()))
        published = sum(1 for _, kind in events if kind == "published")
        other = collections.Counter(kind for _, kind in events if kind != "published")
        row.messages = f"{published} ({published / max(result.enqueued, 1):.3f}/email)" + "".join(
            f"; {n} {kind}" for kind, n in sorted(other.items())
        )
        if fault_at is not None and result.last_accepted:
            row.after_fault = f"{result.last_accepted - fault_at:.1f} s after {since}"
        if not settled:
            row.notes.append(f"NOT SETTLED: {unsettled()} rows still queued/sending at the timeout")
        if burst.failed_commits:
            row.notes.append(f"{burst.failed_commits} enqueue transactions failed and were retried")
        if result.enqueued != row.n:
            row.notes.append(f"{result.enqueued} rows in the database for {row.n} meant")
        if result.others:
            row.notes.append(f"{result.others} other emails accepted (alerts)")
        self.events = events
        return result


def wait_ready(process: subprocess.Popen, log: Path, offset: int, timeout: float = 90) -> None:
    """Until the worker logs ``<name> ready.`` (Celery's consumer is up) after ``offset`` in its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker exited with {process.returncode} (see {log})")
        with contextlib.suppress(FileNotFoundError), open(log, "rb") as f:
            f.seek(offset)
            if b" ready." in f.read():
                return
        time.sleep(0.1)
    raise RuntimeError(f"worker not ready after {timeout:.0f} s (see {log})")


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True).stdout


def wait_until(predicate, timeout: float):
    """Poll ``predicate`` until it returns something truthy (returned), or ``timeout`` seconds (its last value)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def sleep_until(at: float) -> None:
    time.sleep(max(0.0, at - time.time()))


def settle_timeout(n: int, rate: float | None = None) -> float:
    return 120 + n / (rate or 100)


# --- the faults -----------------------------------------------------------------------


def worker_host_killed(stack: Stack, n: int, recovery: dict, name: str) -> Row:
    """A worker's whole process group SIGKILLed 1 s into a burst; a second worker runs throughout.

    A replacement starts right after the death (as Compose's restart policy would).
    Contract: nothing lost; duplicates at most the dead worker's claims; its claims
    go out about a lease after the death (the target: within 60 s with the shipped
    lease of 30 s and keeper of 5 s).
    """
    env = {**FAST, **recovery}
    row = stack.begin(name, n, env)
    stack.worker("a")
    victim = stack.worker("b")
    burst = Burst("kill", n).start()
    sleep_until(burst.started + FAULT_AT)
    pids = pool_pids(victim)
    PROCS.stop(victim, sig=signal.SIGKILL)
    died = time.time()
    stack.workers.pop("b")
    time.sleep(SETTLE_AFTER_KILL)
    held = claims(pids)
    stack.worker("c")
    settled = stack.settle(burst, settle_timeout(n) + 2 * float(recovery["MAILER_LEASE_SECONDS"]))
    result = stack.finish(row, burst, settled=settled, fault_at=died, since="the death")
    row.in_flight = f"{len(held)} claimed by the dead worker"
    back = [result.accepted_at[to] - died for _, to in held if to in result.accepted_at]
    if back:
        row.notes.append(f"its claims all accepted {min(back):.1f}–{max(back):.1f} s after the death")
    missing = sum(1 for _, to in held if to not in result.accepted_at)
    if missing:
        row.notes.append(f"{missing} of its claims never accepted")
    return row


def pool_process_killed(stack: Stack, n: int) -> Row:
    """One prefork process of a worker SIGKILLed 1 s into a burst (the one holding the most claims).

    Celery starts another; the dead process's claims come back after a lease.
    Contract: nothing lost; duplicates at most its claims.
    """
    env = {**FAST, **SHORT}
    row = stack.begin("pool process SIGKILL", n, env)
    stack.worker("a")
    worker = stack.worker("b")
    burst = Burst("pool", n).start()
    sleep_until(burst.started + FAULT_AT)
    pids = pool_pids(worker)
    held_by = {pid: len(claims({pid})) for pid in pids}
    victim = max(pids, key=held_by.get)
    os.kill(victim, signal.SIGKILL)
    died = time.time()
    time.sleep(SETTLE_AFTER_KILL)
    held = claims({victim})
    settled = stack.settle(burst, settle_timeout(n))
    replaced = wait_until(lambda: pool_pids(worker) - pids, timeout=15)
    result = stack.finish(row, burst, settled=settled, fault_at=died)
    row.in_flight = f"{len(held)} claimed by the dead process"
    back = [result.accepted_at[to] - died for _, to in held if to in result.accepted_at]
    if back:
        row.notes.append(f"its claims accepted {min(back):.1f}–{max(back):.1f} s after the death")
    row.notes.append(f"pool process replaced: {'yes' if replaced else 'NO'}")
    return row


def rolling_restarts(stack: Stack, n: int, restarts: int, rate: float) -> Row:
    """``restarts`` rolling restarts of two workers, alternating, during an ``n``-email burst.

    Each: SIGTERM to the worker's main process (what ``docker stop`` sends), wait for
    it to exit, start it again, wait until it consumes, then the other one. The send
    rate is held at ``rate``/s so that the burst lasts through the restarts.
    Contract: 0 lost, 0 duplicates; every stop ends within Compose's stop_grace_period,
    and leaves no claim behind.
    """
    grace = compose_stop_grace()
    env = {**SHORT, "MAILER_MAX_SEND_RATE": f"{rate:g}"}
    row = stack.begin(f"{restarts} rolling restarts", n, env)
    stack.worker("a")
    stack.worker("b")
    burst = Burst("roll", n).start()
    sleep_until(burst.started + FAULT_AT)
    first = time.time()
    stops, held_total, left_behind, stragglers, killed, restarted_at = [], 0, 0, 0, 0, []
    for i in range(restarts):
        slot = "ab"[i % 2]
        process = stack.workers.pop(slot)
        pids = pool_pids(process)
        held_total += len(claims(pids))
        stop = stop_like_docker(process, grace)
        stops.append(stop.seconds)
        killed += stop.killed
        stragglers += stop.stragglers
        restarted_at.append(time.time())
        left_behind += len(claims(pids))
        stack.worker(slot)
    settled = stack.settle(burst, settle_timeout(n, rate))
    result = stack.finish(row, burst, settled=settled, fault_at=restarted_at[-1], since="the last restart")
    during = sum(1 for at in restarted_at if at < result.last_accepted)
    row.in_flight = f"{held_total} claims held at the {restarts} SIGTERMs (sum)"
    row.notes += [
        (
            f"stop (SIGTERM → exit): max {max(stops):.1f} s, median {sorted(stops)[len(stops) // 2]:.1f} s; "
            f"Compose stop_grace_period {grace:g} s"
        ),
        (
            f"{during} of {restarts} restarts while email was still being sent "
            f"(restarts took {restarted_at[-1] - first:.0f} s; the burst was sent in "
            f"{result.last_accepted - burst.started:.0f} s, {n / rate:.0f} s at {rate:g}/s)"
        ),
        (
            f"claims left behind by a stopped worker: {left_behind}; pool processes outliving their worker: "
            f"{stragglers}; SIGKILLed after the grace period: {killed}"
        ),
    ]
    return row


@dataclass
class Stop:
    seconds: float  # SIGTERM → the main process exited (or was killed)
    killed: bool  # still running after the grace period: SIGKILLed, as Docker does
    stragglers: bool  # pool processes still running after the main process exited


def stop_like_docker(process: subprocess.Popen, grace: float) -> Stop:
    """``docker stop``: SIGTERM to the main process only, SIGKILL to all after ``grace`` seconds."""
    began = time.monotonic()
    killed = stragglers = False
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        killed = True
    seconds = time.monotonic() - began
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 0)  # anything left in its process group (its own, pgid == pid)?
        stragglers = not killed
        os.killpg(process.pid, signal.SIGKILL)
    PROCS.stop(process, sig=signal.SIGKILL)  # reaps it and forgets it
    return Stop(seconds, killed, stragglers)


def compose_stop_grace() -> float:
    """docker-compose.yml's ``services.worker.stop_grace_period`` in seconds (Docker's default: 10 s)."""
    import yaml

    text = str(
        yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"].get("stop_grace_period", "10s")
    )
    seconds = 0.0
    for amount, unit in re.findall(r"([\d.]+)(ms|h|m|s|us)", text):
        seconds += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return seconds


def redis_restarted(stack: Stack, n: int, keep_data: bool) -> Row:
    """Redis stopped 1 s into a burst, down 2 s, started again: with its data (appendonly) or empty.

    Under the Redis broker this is the broker too (queues, unacked messages, bindings);
    under amqp only the limiter, breaker and doorbell keys: RabbitMQ is not restarted.
    Contract: nothing lost, nothing sent twice (outcomes are recorded in PostgreSQL).
    """
    env = {**FAST, **SHORT}
    name = f"Redis restarted, {'appendonly (data kept)' if keep_data else 'no appendonly (data lost)'}"
    row = stack.begin(name, n, env)
    row.settings["Redis"] = "appendonly yes" if keep_data else "restarted empty, as without appendonly"
    stack.worker("a")
    stack.worker("b")
    burst = Burst("redis", n).start()
    sleep_until(burst.started + FAULT_AT)
    held = claims()
    down = time.time()
    stack.redis.restart(down_for=2, keep_data=keep_data)
    back = time.time()
    settled = stack.settle(burst, settle_timeout(n))
    stack.finish(row, burst, settled=settled, fault_at=back, since="Redis was back")
    row.in_flight = f"{len(held)} sending when Redis stopped"
    row.notes.append(
        f"Redis down {back - down:.1f} s"
        + ("" if stack.broker == "redis" else "; RabbitMQ not restarted (the broker under amqp)")
    )
    return row


def postgres_restarted(stack: Stack, n: int) -> Row:
    """PostgreSQL restarted 1 s into a burst (``pg_ctl stop -m fast``, down 3 s, started).

    Enqueues that fail meanwhile are retried (as users would). Contract: nothing lost;
    duplicates at most the sends in flight whose outcome could not be recorded.
    """
    env = {**FAST, **SHORT}
    row = stack.begin("PostgreSQL restarted (down 3 s)", n, env)
    stack.worker("a")
    stack.worker("b")
    burst = Burst("pg", n).start()
    sleep_until(burst.started + FAULT_AT)
    held = claims()
    down = time.time()
    stack.pg.restart(down_for=3)
    back = time.time()
    settled = stack.settle(burst, settle_timeout(n))
    stack.finish(row, burst, settled=settled, fault_at=back, since="PostgreSQL was back")
    row.in_flight = f"{len(held)} sending when PostgreSQL stopped"
    row.notes.append(f"PostgreSQL down {back - down:.1f} s (stop + 3 s + start)")
    return row


def ses_outage(stack: Stack, n: int, seconds: float) -> Row:
    """SES answers 503 to every send for ``seconds`` from 1 s into a burst, then recovers.

    Meanwhile ``mailer.ops.alerts.alerts_check`` runs every 5 s (what beat runs every
    5 minutes; there is no management command for it). Contract: nothing lost or
    failed; few requests reach SES during the outage (the breaker pauses every worker,
    then probes with one email at a time); the "provider" alert fires during the
    outage and is reported cleared after recovery.
    """
    from mailer.ops.alerts import alerts_check

    env = {**FAST, **SHORT}
    row = stack.begin(f"SES 503 for {seconds:g} s", n, env)
    row.settings["ADMINS"] = ALERT_TO
    stack.worker("a")
    stack.worker("b")
    burst = Burst("outage", n).start()
    sleep_until(burst.started + FAULT_AT)
    held = claims()
    stack.ses.outage(True)
    went_down = time.time()
    before = stack.ses.stats()
    fired, notified = None, 0
    while time.time() < went_down + seconds:
        check = db_retrying(alerts_check, {"problems": [], "notified": 0})
        if "provider" in check["problems"] and fired is None:
            fired = time.time() - went_down
        notified += check["notified"]
        time.sleep(min(5.0, max(0.0, went_down + seconds - time.time())))
    during = stack.ses.stats()
    stack.ses.outage(False)
    back = time.time()
    cleared = None
    while fired is not None and cleared is None and time.time() < back + 180:
        check = alerts_check()
        notified += check["notified"]
        if "provider" in check["cleared"]:
            cleared = time.time() - back
        else:
            time.sleep(2)
    settled = stack.settle(burst, settle_timeout(n) + 120)
    result = stack.finish(row, burst, settled=settled, fault_at=back, since="SES recovered")
    requests = during.get("requests", 0) - before.get("requests", 0)
    unavailable = during.get("unavailable", 0)
    row.in_flight = f"{len(held)} sending when SES went down"
    row.notes += [
        f"requests to SES during the outage: {requests} ({unavailable} answered 503)",
        f"'provider' alert: fired {fired:.0f} s into the outage"
        if fired is not None
        else "'provider' alert: NEVER fired",
        f"cleared {cleared:.0f} s after recovery" if cleared is not None else "not reported cleared",
        f"alert emails queued: {notified}; accepted: {result.others}",
        f"max attempts of an email: {result.max_attempts}",
    ]
    return row


def ses_throttling(stack: Stack, n: int, ses_rate: float, worker_rate: float) -> Row:
    """The fake SES accepts ``ses_rate``/s while the workers are told ``worker_rate``/s.

    Contract: 0 lost, 0 duplicates, none failed; the backlog drains at about SES's
    rate (the throttling answers pause the workers instead of burning attempts).
    """
    env = {**SHORT, "MAILER_MAX_SEND_RATE": f"{worker_rate:g}"}
    row = stack.begin(f"SES throttling at {ses_rate:g}/s", n, env, ses_rate=ses_rate)
    stack.worker("a")
    stack.worker("b")
    burst = Burst("throttle", n).start()
    settled = stack.settle(burst, settle_timeout(n, ses_rate / 2))
    stats = stack.ses.stats()
    result = stack.finish(row, burst, settled=settled)
    span = result.last_accepted - result.first_accepted
    row.after_fault = f"{result.last_accepted - burst.started:.1f} s from the first commit"
    row.notes += [
        f"drained at {(result.sent - 1) / span:.1f}/s (first → last accepted; SES allows {ses_rate:g}/s, "
        f"workers told {worker_rate:g}/s)"
        if span > 0
        else "drain rate: –",
        f"throttled answers: {stats.get('throttled', 0)}; max attempts of an email: {result.max_attempts}",
    ]
    return row


def amplification(stack: Stack, n: int, rate: float) -> Row:
    """``n`` emails due at once (500 per committed transaction) drained at ``rate``/s by two workers.

    Counts the messages put on the broker's queues from the first commit until the
    last email is accepted: doorbells from commits, from drains that hand over, and
    from keepers. Contract: a handful per drain round, not one per email.
    """
    env = {**SHORT, "MAILER_MAX_SEND_RATE": f"{rate:g}"}
    row = stack.begin(f"amplification, {n} due at once", n, env)
    row.settings["enqueue"] = "500 per transaction"
    stack.worker("a")
    stack.worker("b")
    burst = Burst("amp", n, batch=500).start()
    settled = stack.settle(burst, settle_timeout(n, rate))
    result = stack.finish(row, burst, settled=settled)
    published = [at for at, kind in stack.events if kind == "published"]
    enqueueing = sum(1 for at in published if at <= burst.finished)
    drain_s = result.last_accepted - burst.started
    row.after_fault = f"{drain_s:.0f} s from the first commit"
    row.notes += [
        (
            f"{len(published)} messages in {drain_s:.0f} s: {len(published) / (drain_s / 60):.1f}/min, "
            f"{len(published) / n:.4f}/email ({enqueueing} while enqueueing, {burst.finished - burst.started:.1f} s)"
        ),
        f"drained at {(result.sent - 1) / (result.last_accepted - result.first_accepted):.1f}/s",
    ]
    return row


# --- running ----------------------------------------------------------------------------

ROWS = (
    "worker-kill",
    "worker-kill-defaults",
    "pool-kill",
    "rolling",
    "redis-kept",
    "redis-lost",
    "postgres",
    "ses-outage",
    "ses-throttle",
    "amplification",
)


def rows(args) -> list[tuple[str, Callable[[Stack], Row]]]:
    """Every row in the order it runs: (its name in ROWS, for --only; a function of the stack)."""
    n = args.emails
    runs = [
        ("worker-kill", lambda s: worker_host_killed(s, n, SHORT, "worker host SIGKILL")),
        (
            "worker-kill-defaults",
            lambda s: worker_host_killed(s, n, SHIPPED_RECOVERY, "worker host SIGKILL, shipped lease/keeper"),
        ),
        ("pool-kill", lambda s: pool_process_killed(s, n)),
        ("rolling", lambda s: rolling_restarts(s, n, args.restarts, args.rolling_rate)),
        ("redis-kept", lambda s: redis_restarted(s, n, keep_data=True)),
        ("redis-lost", lambda s: redis_restarted(s, n, keep_data=False)),
        ("postgres", lambda s: postgres_restarted(s, n)),
        ("ses-outage", lambda s: ses_outage(s, n, args.outage_seconds)),
        ("ses-throttle", lambda s: ses_throttling(s, n, 30, 50)),
        ("amplification", lambda s: amplification(s, args.amplification_emails, 50)),
    ]
    assert tuple(name for name, _ in runs) == ROWS
    return runs


COLUMNS = [
    "fault",
    "emails",
    "settings",
    "sent",
    "lost",
    "duplicated",
    "in flight at the fault",
    "last email accepted after the fault",
    "broker messages (per email)",
    "final statuses",
    "notes",
]


def table(results: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for r in results:
        settings = ", ".join(f"{short_name(k)} {v}" for k, v in r.settings.items())
        cells = [
            r.fault,
            r.n,
            settings,
            r.sent,
            r.lost,
            r.duplicated,
            r.in_flight,
            r.after_fault,
            r.messages,
            r.statuses,
            "; ".join(r.notes),
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def short_name(setting: str) -> str:
    return {"MAILER_LEASE_SECONDS": "lease", "MAILER_KEEPER_SECONDS": "keeper", "MAILER_MAX_SEND_RATE": "rate"}.get(
        setting, setting
    )


def write_report(tables: dict[str, list[Row]], started: float, header: str) -> str:
    text = header + "".join(f"\n## Broker: {broker}\n\n{table(results)}" for broker, results in tables.items())
    text += f"\nTotal runtime so far: {(time.time() - started) / 60:.1f} min\n"
    REPORT.write_text(text)
    return text


def start_services() -> tuple[PrivateRedis, PrivatePostgres, SES]:
    """Private Redis (appendonly, as Compose runs it) and PostgreSQL, migrated; this process's Django on them."""
    FAULT_LOGS.mkdir(parents=True, exist_ok=True)
    redis = PrivateRedis(appendonly=True).start()
    pg = PrivatePostgres().start()
    pg.create_database(DB_NAME)
    ses = SES(free_port())
    env = {
        **harness.ENV,
        "DATABASE_URL": pg.url(DB_NAME),
        "REDIS_URL": redis.url,
        "LOG_DIR": str(FAULT_LOGS),
        "AWS_SES_REGION_ENDPOINT_URL": ses.url,
        "ADMINS": ALERT_TO,
    }
    os.environ.update(env)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=os.environ)
    import django

    django.setup()
    return redis, pg, ses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=2000, help="emails per row (default %(default)s)")
    parser.add_argument("--only", default="", help="comma-separated rows: " + ",".join(ROWS))
    parser.add_argument("--broker", default="redis", help="redis, amqp, or redis,amqp (default %(default)s)")
    parser.add_argument("--outage-seconds", type=float, default=300, help="SES outage length (default %(default)s)")
    parser.add_argument("--amplification-emails", type=int, default=10_000, help="default %(default)s")
    parser.add_argument("--restarts", type=int, default=20, help="rolling restarts (default %(default)s)")
    parser.add_argument(
        "--rolling-rate",
        type=float,
        default=14,
        help="MAILER_MAX_SEND_RATE during the rolling restarts, so that the burst lasts through "
        "them (default %(default)s, the shipped rate)",
    )
    args = parser.parse_args()
    brokers = [b for b in args.broker.split(",") if b]
    if not set(brokers) <= {"redis", "amqp"}:
        parser.error("--broker: redis, amqp or redis,amqp")
    only = [o for o in args.only.split(",") if o]
    chosen = [(name, run) for name, run in rows(args) if not only or name in only]
    unknown = set(only) - {name for name, _ in chosen}
    if unknown:
        parser.error(f"--only: no row named {', '.join(sorted(unknown))}")

    started = time.time()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (`&`)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    signal.signal(signal.SIGHUP, lambda signum, frame: sys.exit(128 + signum))
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    header = (
        f"# Fault rows, {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC\n\n"
        f"{os.cpu_count()} CPUs. Workers: `{' '.join(harness.worker_command())}` (docker-compose.yml) "
        f"+ `-n`, two at a time; fake SES latency {SES_LATENCY_MS} ms; private Redis (appendonly) and "
        f"PostgreSQL on free ports; one email per committed transaction unless said. Settings not shown "
        f"are the shipped defaults.\n"
    )
    tables: dict[str, list[Row]] = {}
    stack = redis = pg = None
    try:
        redis, pg, ses = start_services()
        for broker in brokers:
            stack = Stack(broker, redis, pg, ses)
            stack.use()
            results = tables.setdefault(broker, [])
            try:
                for name, run in chosen:
                    try:
                        results.append(run(stack))
                    except Exception as exc:  # noqa: BLE001 one row's failure is a finding, not the end of the run
                        for slot in list(stack.workers):
                            PROCS.stop(stack.workers.pop(slot))
                        if stack._counter:
                            with contextlib.suppress(Exception):
                                stack._counter.stop()
                            stack._counter = None
                        results.append(Row(fault=name, n=0, settings={}, notes=[f"FAILED: {exc!r}"]))
                    print(table(results[-1:]), flush=True)
                    write_report(tables, started, header)
            finally:
                stack.close()
    finally:
        if stack and stack._counter:
            with contextlib.suppress(Exception):
                stack._counter.stop()
        PROCS.stop_all()
        if redis:
            redis.cleanup()
        if pg:
            pg.cleanup()
    print(write_report(tables, started, header))
    print(f"written to {REPORT}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        PROCS.stop_all()
        sys.exit("interrupted: every process the fault script started is stopped")
