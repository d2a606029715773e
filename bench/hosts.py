"""Several machines: three worker hosts, each a Linux network namespace, sharing one outbox, limiter and SES.

    python -m bench.hosts [--emails 2000] [--rate 50] [--lease 3|shipped] [--keeper 0.5|shipped]
                          [--drain shipped|SECONDS] [--latency-ms 50] [--json PATH] [--keep]
    make hosts HOSTS_ARGS="--emails 500"        (as root: it creates network namespaces)

This machine plays the database and broker host: a private PostgreSQL and Redis
(bench.services) and the fake SES (bench/fake_ses.py, refusing, as SES does, any
send that would put more than --rate accepted sends in a sliding second) listen on
127.0.0.1 and on this machine's end of three veth pairs. Each worker host is a
network namespace (``enhost1..3``; 10.213.K.2/30 inside, 10.213.K.1/30 on this
machine's link ``enhK``) running the worker exactly as docker-compose.yml ships it,
plus ``-n hostK@%h``. A host reaches PostgreSQL, Redis and SES over its own link
only, and writes its own email.log (LOG_DIR). This process enqueues as the web
does: ``mailer.api.enqueue`` in committed transactions (bench.harness.enqueue_one).

(a)+(b) N emails enqueued while the three hosts send (and more at the rate while a
        host has sent nothing, for up to a minute: one process can send the whole
        rate, and a short burst may reach only the hosts that answered its first
        doorbells): emails per host (the ``status=sent`` lines of each host's
        email.log), the global rate over the steady part (accepted per second at
        SES, the first second left out, and the last before the burst's
        (N − throttled)-th email: a throttled send comes back after a backoff),
        its deviation from MAILER_MAX_SEND_RATE, the busiest sliding second of
        requests (accepted and throttled), and SES's throttling answers.
(c)     N more; once half of them are accepted, the link of the host holding the
        most claims goes down (``ip link set enhK down``, this machine's end): the
        emails that host held (in flight at the cut), the time from the cut until
        they are back in the outbox, to the last email delivered and to the last
        held email sent again by another host, and the longest time SES accepted
        nothing meanwhile.
(d)     The link back up, N more (and more, as in (a), while the host has sent
        nothing: it answers a doorbell only once its processes are free again):
        emails per host, and how long after the link came back it sent again.

Lost (queued, never accepted by SES) and duplicated (accepted more than once per
To) are counted per burst over the whole run, once every worker has stopped: a send
held up on the cut link may still reach SES after the link comes back.

Leases are short here (MAILER_LEASE_SECONDS=3, MAILER_KEEPER_SECONDS=0.5, as in the
test suite's worker processes) so that the cut shows recovery in seconds;
``--lease shipped --keeper shipped`` runs the settings' own (30 s, 5 s).

Prints the figures as markdown (``--json PATH`` also writes them). ``run_isolated``
runs the scenario in a child process and returns its figures: the test suite's way
in, since its own Django is set up on another database. Everything created here
(namespaces, veth pairs, processes, temporary folders) is removed on the way out,
also on Ctrl-C or SIGTERM; ``--keep`` keeps the folder with each host's logs. Not
part of ``make bench``.
"""

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from bench import harness
from bench.harness import PROCS, ROOT, django_env, enqueue_one, worker_command
from bench.report import md
from bench.services import PrivatePostgres, PrivateRedis, free_port

DB_NAME = "electnepal_hosts"
LOOPBACK = "127.0.0.1"
# The workers' SES account and sender: the benchmark's (no real AWS behind the fake SES).
SES_ENV = {
    name: harness.ENV[name]
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SES_REGION_NAME", "DEFAULT_FROM_EMAIL")
}
# A send in a host's email.log (mailer/outbox/attempt_log.py): the row's id.
SENT_LINE = re.compile(r" email=(\d+) .* status=sent ")
# Celery's last words at start-up, once the pool's processes run and the queues are consumed.
READY_LINE = re.compile(r"@\S+ ready\.")
SHIPPED = "shipped"
# How long bursts (a) and (d) go on, at the rate, for every host, or the one back on the network, to send.
PATIENCE = 60.0


def say(text: str) -> None:
    print(f"[hosts] {text}", file=sys.stderr, flush=True)


# --- the network -------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """One worker host: a network namespace joined to this machine by a veth pair, a /30 of its own."""

    name: str  # host1: the worker's -n name, a column of the report
    namespace: str
    link: str  # the pair's end on this machine: `ip link set <link> down` cuts the host off
    address: str  # this machine's address on that link: where the host finds PostgreSQL, Redis and SES
    inside: str  # the host's own address


@dataclass(frozen=True)
class Network:
    """Names and addresses of the hosts: namespace ``<namespaces>K``, link ``<links>K``, ``<subnet>.K.0/30``."""

    namespaces: str = "enhost"
    links: str = "enh"
    subnet: str = "10.213"
    hosts: int = 3

    @classmethod
    def parse(cls, text: str) -> "Network":
        """``enhost:enh:10.213`` (the command line's --network)."""
        namespaces, links, subnet = text.split(":")
        return cls(namespaces, links, subnet)

    def __str__(self) -> str:
        return f"{self.namespaces}:{self.links}:{self.subnet}"

    def members(self) -> list[Host]:
        return [
            Host(
                f"host{k}", f"{self.namespaces}{k}", f"{self.links}{k}", f"{self.subnet}.{k}.1", f"{self.subnet}.{k}.2"
            )
            for k in range(1, self.hosts + 1)
        ]


# The test suite's names: a `make hosts` running at the same time keeps its own.
TEST_NETWORK = Network("entest", "ent", "10.214")


def ip(*args: str) -> str:
    """Run ``ip <args>``; its output, or RuntimeError with ip's own complaint."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result.stdout


def unavailable() -> str | None:
    """Why the scenario cannot run on this machine (not root; no network namespaces or veth pairs), or None.

    Tries what the scenario does, on a probe namespace and link it removes again.
    """
    if os.geteuid() != 0:
        return "needs root: it creates network namespaces and veth pairs (run it with sudo)"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"enprobe{os.getpid() % 100000}"
    try:
        ip("netns", "add", probe)
    except RuntimeError as exc:
        return f"`ip netns add` does not work here: {exc}"
    try:
        ip("link", "add", probe, "type", "veth", "peer", "name", "eth0", "netns", probe)
    except RuntimeError as exc:
        return f"no veth pair can be made here: {exc}"
    finally:
        with contextlib.suppress(RuntimeError):
            ip("link", "del", probe)
        with contextlib.suppress(RuntimeError):
            ip("netns", "del", probe)
    return None


def _exists(host: Host) -> bool:
    namespaces = {line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()}
    links = {line.split()[0].split("@")[0] for line in ip("-br", "link").splitlines() if line.strip()}
    return host.namespace in namespaces or host.link in links


@contextlib.contextmanager
def namespaces(network: Network) -> Iterator[list[Host]]:
    """The hosts' namespaces and links, up; both ends of every link and every namespace deleted on exit.

    Refuses (SystemExit) when one of the names is taken: another run, or one that died
    without cleaning up; nothing of it is touched.
    """
    hosts = network.members()
    for host in hosts:
        if _exists(host):
            raise SystemExit(
                f"{host.namespace} or {host.link} exists already (another run, or a stale one: "
                f"`ip link del {host.link}; ip netns del {host.namespace}`)"
            )
    try:
        for host in hosts:
            ip("netns", "add", host.namespace)
            ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
            ip("addr", "add", f"{host.address}/30", "dev", host.link)
            ip("link", "set", host.link, "up")
            ip("-n", host.namespace, "addr", "add", f"{host.inside}/30", "dev", "eth0")
            ip("-n", host.namespace, "link", "set", "eth0", "up")
            ip("-n", host.namespace, "link", "set", "lo", "up")
        yield hosts
    finally:
        for host in hosts:
            with contextlib.suppress(RuntimeError):
                ip("link", "del", host.link)  # takes the namespace's end with it
            with contextlib.suppress(RuntimeError):
                ip("netns", "del", host.namespace)


def cut(host: Host) -> None:
    """Take this machine's end of the host's link down: its packets go nowhere, nothing is reset."""
    ip("link", "set", host.link, "down")


def restore(host: Host) -> None:
    ip("link", "set", host.link, "up")


# --- the machine's services --------------------------------------------------------------


@dataclass
class Servers:
    redis: PrivateRedis
    postgres: PrivatePostgres


@contextlib.contextmanager
def servers(hosts: list[Host]) -> Iterator[Servers]:
    """A private Redis and PostgreSQL on 127.0.0.1 and every host's link, with the database DB_NAME; removed on exit."""
    addresses = (LOOPBACK, *(host.address for host in hosts))
    redis, postgres = PrivateRedis(hosts=addresses), PrivatePostgres(hosts=addresses)
    try:
        redis.start()
        postgres.start()
        postgres.create_database(DB_NAME)
        yield Servers(redis, postgres)
    finally:
        with contextlib.suppress(Exception):  # Django, when it was set up: its connection goes before the server
            from django.db import connections

            connections.close_all()
        postgres.cleanup()
        redis.cleanup()


def use_database(found: Servers, folder: Path) -> None:
    """Migrate the private database, then set this process's Django up on it (it enqueues, as the web does)."""
    env = django_env(
        DB_NAME, DATABASE_URL=found.postgres.url(DB_NAME), REDIS_URL=found.redis.url, LOG_DIR=str(folder), **SES_ENV
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env={**os.environ, **env})
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- the workers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """The command line's choices (run_isolated passes them on as such)."""

    emails: int = 2000  # per burst
    rate: float = 50.0  # MAILER_MAX_SEND_RATE, and what the fake SES lets through
    lease: int | None = 3  # MAILER_LEASE_SECONDS; None: as the settings ship it
    keeper: float | None = 0.5  # MAILER_KEEPER_SECONDS; None: as shipped
    # MAILER_DRAIN_SECONDS; None: as shipped (5 s). One process can send the whole rate, and a
    # drain invites no other while it has threads to spare; it ends by ringing for the next
    # round, which any worker may answer: short drains draw every host into a short burst.
    drain: float | None = None
    latency_ms: float = 50.0  # the fake SES's answer time: sends overlap, some are in flight at the cut
    network: Network = Network()
    keep: bool = False

    def recovery_env(self) -> dict[str, str]:
        """The workers' MAILER_LEASE_SECONDS, MAILER_KEEPER_SECONDS and MAILER_DRAIN_SECONDS, where set."""
        env = {}
        if self.lease is not None:
            env["MAILER_LEASE_SECONDS"] = str(self.lease)
        if self.keeper is not None:
            env["MAILER_KEEPER_SECONDS"] = f"{self.keeper:g}"
        if self.drain is not None:
            env["MAILER_DRAIN_SECONDS"] = f"{self.drain:g}"
        return env


def worker_env(host: Host, found: Servers, ses: harness.SES, options: Options, folder: Path) -> dict[str, str]:
    """What the host's worker runs with: everything over its own link, its own LOG_DIR, the rate under test."""
    return django_env(
        DB_NAME,
        DATABASE_URL=found.postgres.url(DB_NAME, host=host.address),
        REDIS_URL=found.redis.url_on(host.address),
        AWS_SES_REGION_ENDPOINT_URL=ses.url_on(host.address),
        MAILER_MAX_SEND_RATE=f"{options.rate:g}",
        LOG_DIR=str(folder),
        **SES_ENV,
        **options.recovery_env(),
    )


def start_workers(
    hosts: list[Host], found: Servers, ses: harness.SES, options: Options, run_dir: Path
) -> dict[str, "subprocess.Popen"]:
    """One worker per host, in its namespace: ``ip netns exec <namespace> python -m <docker-compose.yml's
    worker command> -n hostK@%h``, its output in run_dir/hostK/worker.log. Returns at once (see ``wait_ready``)."""
    workers = {}
    for host in hosts:
        folder = run_dir / host.name
        folder.mkdir()
        argv = ["ip", "netns", "exec", host.namespace, sys.executable, "-m", *worker_command(), "-n", f"{host.name}@%h"]
        workers[host.name] = PROCS.start(
            argv, env=worker_env(host, found, ses, options, folder), log=str(folder / "worker.log")
        )
    return workers


def wait_ready(workers: dict[str, "subprocess.Popen"], run_dir: Path, timeout: float = 120) -> None:
    """Return once every worker said it is ready; RuntimeError when one exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    for name, worker in workers.items():
        output = run_dir / name / "worker.log"
        while not READY_LINE.search(output.read_text(errors="replace")):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker of {name} did not start: see {output} (--keep keeps it)")
            time.sleep(0.2)


def stop_workers(workers: dict[str, "subprocess.Popen"], timeout: float = 40) -> None:
    """SIGTERM to every worker at once (a deploy: drains finish), SIGKILL to what still runs after ``timeout``."""
    for worker in workers.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)  # its own group (PROCS starts a session): the pool too
    deadline = time.monotonic() + timeout
    for worker in workers.values():
        PROCS.stop(worker, timeout=max(1.0, deadline - time.monotonic()))


def process_ids(worker: "subprocess.Popen") -> set[int]:
    """The worker's process and its pool's: the pids its claims carry (Email.claimed_by is host:pid:random)."""
    import psutil

    main = psutil.Process(worker.pid)
    return {main.pid, *(child.pid for child in main.children(recursive=True))}


# --- the bursts -------------------------------------------------------------------------------


def address(phase: str, i: int) -> str:
    return f"{phase}-{i}@hosts.example.com"


@dataclass
class Burst:
    """What a burst recorded while it ran; the figures come from SES's log and the hosts' logs afterwards."""

    phase: str
    emails: int
    to_by_id: dict[int, str]
    throttled: int  # SES's throttling answers from the first enqueue until every row was final
    throttled_at: list[float]  # their time.time() (SES keeps the first 1000 of a run)
    complete: bool  # every row final before the timeout


@dataclass
class CutMarks:
    host: str
    at: float  # time.time() of the cut
    # The rows the host held (claimed, outcome not recorded) when its link went down: id → (To, claimed_by).
    held: dict[int, tuple[str, str]]
    reclaimed_after: float | None = None  # seconds from the cut until no held row was the host's any more


@dataclass
class RejoinMarks:
    host: str
    at: float  # time.time() the link came back


@dataclass
class Pending:
    """A burst enqueued: its phase and size, and SES's counters when it began."""

    phase: str
    emails: int
    stats: dict


def start_burst(phase: str, n: int, ses: harness.SES) -> Pending:
    """Enqueue ``n`` emails to ``<phase>-<i>@…``, each in its own committed transaction (as the web does)."""
    pending = Pending(phase, n, ses.stats())
    for i in range(n):
        enqueue_one(address(phase, i))
    return pending


def wait_accepted(pending: Pending, ses: harness.SES, n: int, timeout: float) -> None:
    """Return once SES accepted ``n`` sends since the burst began; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (accepted := ses.stats()["accepted"] - pending.stats["accepted"]) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"burst ({pending.phase}): SES accepted {accepted} of {n} in {timeout:.0f} s")
        time.sleep(0.05)


def finish_burst(pending: Pending, ses: harness.SES, timeout: float) -> Burst:
    """Wait until every row of the burst is final (or ``timeout`` seconds passed); what it recorded."""
    from mailer.models import Email

    rows = Email.objects.filter(to__startswith=f"{pending.phase}-")
    deadline = time.monotonic() + timeout
    while not (complete := not rows.exclude(status__in=Email.FINAL_STATUSES).exists()):
        if time.monotonic() > deadline:
            say(f"burst ({pending.phase}): rows still not final after {timeout:.0f} s")
            break
        time.sleep(0.25)
    stats = ses.stats()
    throttled = stats.get("throttled", 0) - pending.stats.get("throttled", 0)
    throttled_at = stats["throttled_at"][len(pending.stats["throttled_at"]) :]
    return Burst(pending.phase, pending.emails, dict(rows.values_list("pk", "to")), throttled, throttled_at, complete)


def held_rows(pids: dict[str, set[int]]) -> dict[str, dict[int, tuple[str, str]]]:
    """The rows each host holds now (status sending, claimed by one of its processes): id → (To, claimed_by)."""
    from mailer.models import Email

    owner = {pid: name for name, ids in pids.items() for pid in ids}
    held = defaultdict(dict)
    rows = Email.objects.filter(status=Email.Status.SENDING).values_list("pk", "to", "claimed_by")
    for pk, to, claimed_by in rows:
        with contextlib.suppress(ValueError, IndexError):
            held[owner.get(int(claimed_by.rsplit(":", 2)[1]), "?")][pk] = (to, claimed_by)
    return held


def cut_busiest(hosts: list[Host], pids: dict[str, set[int]]) -> tuple[Host, CutMarks]:
    """Cut off the host that holds the most rows now (the first on a tie); what it held at the cut."""
    before = held_rows(pids)
    victim = max(hosts, key=lambda host: len(before.get(host.name, [])))
    cut(victim)
    at = time.time()
    # The host can change nothing from now on, and its leases run for a second at least:
    # what it holds a moment after the cut is exactly what it held at the cut (a claim
    # whose answer was on its way back included).
    time.sleep(0.2)
    return victim, CutMarks(victim.name, at, held_rows(pids).get(victim.name, {}))


def wait_reclaimed(marks: CutMarks, timeout: float) -> float | None:
    """Seconds from the cut until no row the host held is claimed by it any more (the keeper of
    another host took them back: their lease ran out); None after ``timeout``."""
    from django.db.models import Q

    from mailer.models import Email

    still_held = Q()
    for pk, (_, claimed_by) in marks.held.items():
        still_held |= Q(pk=pk, claimed_by=claimed_by)
    deadline = time.monotonic() + timeout
    while marks.held and Email.objects.filter(still_held).exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    return round(time.time() - marks.at, 2)


def keep_due_until_sent(pending: Pending, hosts: list[Host], run_dir: Path, rate: float, patience: float) -> None:
    """Until every one of ``hosts`` has sent an email of the burst (their email.log says so), keep a
    second's worth of the burst due, adding emails at the rate; for at most ``patience`` seconds.

    One process can send the whole rate, and a drain invites no other while it has
    threads to spare: which hosts a short burst reaches is down to who answered its
    first doorbells. A host back on the network answers one only once its processes are
    free again (likely: a call held up on the cut link returns when TCP next retransmits).
    """
    from mailer.models import Email

    rows = Email.objects.filter(to__startswith=f"{pending.phase}-")
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        ids = set(rows.values_list("pk", flat=True))
        if all(ids.intersection(sent) for sent in sent_by_host(run_dir, hosts).values()):
            return
        more = int(rate) - rows.exclude(status__in=Email.FINAL_STATUSES).count()
        for i in range(pending.emails, pending.emails + max(0, more)):
            enqueue_one(address(pending.phase, i))
        pending.emails += max(0, more)
        time.sleep(0.5)
    say(f"burst ({pending.phase}): a host sent nothing in {patience:.0f} s")


def recipient(to_header: str) -> str:
    """The address of a To header as the fake SES logs it."""
    return parseaddr(to_header)[1].lower()


def run_phases(
    hosts: list[Host], workers: dict, ses: harness.SES, options: Options, run_dir: Path
) -> tuple[list[Burst], CutMarks, RejoinMarks]:
    """Burst (a) on three hosts; (c) with the busiest host cut off once half of it is accepted; the
    link back up and (d). A burst waits at most three times its length at the rate, plus four leases."""
    from django.conf import settings

    n = options.emails
    lease = settings.MAILER_LEASE_SECONDS if options.lease is None else options.lease  # the workers' lease
    timeout = 3 * n / options.rate + 4 * lease + 60
    pids = {name: process_ids(worker) for name, worker in workers.items()}

    say(f"burst (a): {n} emails, three hosts sending")
    pending = start_burst("a", n, ses)
    keep_due_until_sent(pending, hosts, run_dir, options.rate, patience=PATIENCE)
    share = finish_burst(pending, ses, timeout)

    say(f"burst (c): {n} emails, a link cut once half are accepted")
    pending = start_burst("c", n, ses)
    wait_accepted(pending, ses, n // 2, timeout)
    victim, cut_marks = cut_busiest(hosts, pids)
    say(f"burst (c): {victim.link} down, {victim.name} held {len(cut_marks.held)} emails")
    cut_marks.reclaimed_after = wait_reclaimed(cut_marks, timeout)
    cut_off = finish_burst(pending, ses, timeout)

    restore(victim)
    rejoin = RejoinMarks(victim.name, time.time())
    say(f"burst (d): {victim.link} up again, {n} emails")
    pending = start_burst("d", n, ses)
    keep_due_until_sent(pending, [victim], run_dir, options.rate, patience=PATIENCE)
    third = finish_burst(pending, ses, timeout)
    return [share, cut_off, third], cut_marks, rejoin


# --- the figures -------------------------------------------------------------------------------


@dataclass
class BurstFigures:
    emails: int
    per_host: dict[str, int]  # status=sent lines of each host's email.log, for this burst's rows
    lost: int  # queued, never accepted by SES
    duplicated: int  # acceptances beyond the first, per To
    throttled: int  # SES's throttling answers while the burst ran
    # The most requests SES had in a sliding second, accepted and throttled (SES itself lets no
    # more than the rate through: what tells the limiter's work is what arrived).
    busiest_second: int
    seconds: float  # first → last acceptance at SES
    steady_rate: float | None  # accepted per second, first second and the last before the body's end left out
    deviation_pct: float | None  # steady_rate against MAILER_MAX_SEND_RATE
    complete: bool  # every row final before the burst's timeout


@dataclass
class CutFigures:
    host: str
    accepted_before: int  # emails of burst (c) SES had accepted before the cut
    in_flight: int  # rows the host held at the cut (claimed, outcome not recorded)
    to_last_delivery: float | None  # cut → the last email of burst (c) accepted for the first time
    reclaimed_after: float | None  # cut → every held row back in the outbox (their lease ran out)
    # The longest SES accepted nothing, from the cut to the last email of burst (c): recovery
    # that waits for something other than the lease shows here.
    longest_silence: float | None
    to_last_held_sent: float | None  # cut → the last held email accepted after the cut (sent again elsewhere)
    backlog_seconds: float  # what burst (c) still needed at the cut, at the rate: (emails left) / rate


@dataclass
class RejoinFigures:
    host: str
    to_first_send: float | None  # link up → the host's first email of burst (d) accepted by SES


@dataclass
class Figures:
    rate: float
    lease: str
    keeper: str
    drain: str
    latency_ms: float
    worker: str  # the command each host runs, and its processes × sender threads
    bursts: dict[str, BurstFigures]
    cut: CutFigures
    rejoin: RejoinFigures

    @classmethod
    def from_json(cls, data: dict) -> "Figures":
        return cls(
            **{
                **data,
                "bursts": {phase: BurstFigures(**b) for phase, b in data["bursts"].items()},
                "cut": CutFigures(**data["cut"]),
                "rejoin": RejoinFigures(**data["rejoin"]),
            }
        )


def sent_by_host(run_dir: Path, hosts: list[Host]) -> dict[str, list[int]]:
    """The row id of every ``status=sent`` line in each host's email.log (rotated files included)."""
    sent = {}
    for host in hosts:
        ids = []
        for log in sorted((run_dir / host.name).glob("email.log*")):
            ids += [int(m.group(1)) for m in map(SENT_LINE.search, log.read_text(errors="replace").splitlines()) if m]
        sent[host.name] = ids
    return sent


@dataclass
class Acceptances:
    """SES's log, sorted out: each To's acceptance times, and each burst's arrival times."""

    by_to: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    arrivals: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, log: list[tuple[float, float, str]]) -> "Acceptances":
        found = cls()
        for arrived, accepted, header in sorted(log, key=lambda entry: entry[1]):
            to = recipient(header)
            found.by_to[to].append(accepted)
            found.arrivals[to.split("-", 1)[0]].append(arrived)
        return found

    def first(self, to: str, after: float = 0.0) -> float | None:
        return next((t for t in self.by_to.get(to, ()) if t >= after), None)


def busiest_second(times: list[float]) -> int:
    """The most of ``times`` in any sliding one-second window."""
    times, busiest, j = sorted(times), 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    return busiest


def steady_rate(times: list[float], end: float) -> float | None:
    """Acceptances per second from one second after the first of ``times`` to one second before ``end``
    (start-up and tail left out); None when that leaves less than a second."""
    if not times or end - min(times) < 3:
        return None
    first = min(times)
    return sum(1 for t in times if first + 1 <= t < end - 1) / (end - first - 2)


def burst_figures(burst: Burst, seen: Acceptances, sent: dict[str, list[int]], rate: float) -> BurstFigures:
    addresses = [address(burst.phase, i) for i in range(burst.emails)]
    times = sorted(t for to in addresses for t in seen.by_to.get(to, ()))
    firsts = sorted(seen.by_to[to][0] for to in addresses if seen.by_to.get(to))
    # The body of the burst ends with its (n − throttled)-th email: a throttled send comes back
    # after a backoff of seconds, at no rate at all.
    body = firsts[max(0, len(firsts) - burst.throttled) - 1] if firsts else 0.0
    steady = steady_rate(times, body)
    return BurstFigures(
        emails=burst.emails,
        per_host={host: sum(1 for pk in ids if pk in burst.to_by_id) for host, ids in sent.items()},
        lost=sum(1 for to in addresses if not seen.by_to.get(to)),
        duplicated=sum(max(0, len(seen.by_to.get(to, ())) - 1) for to in addresses),
        throttled=burst.throttled,
        busiest_second=busiest_second(seen.arrivals.get(burst.phase, []) + burst.throttled_at),
        seconds=round(times[-1] - times[0], 3) if times else 0.0,
        steady_rate=None if steady is None else round(steady, 2),
        deviation_pct=None if steady is None else round(100 * (steady - rate) / rate, 2),
        complete=burst.complete,
    )


def longest_silence(seen: Acceptances, start: float, end: float) -> float:
    """The longest gap between acceptances (of any burst) from ``start`` to ``end``, both ends counted as one."""
    if end <= start:
        return 0.0
    times = sorted([start, end, *(t for ts in seen.by_to.values() for t in ts if start < t < end)])
    return round(max(b - a for a, b in itertools.pairwise(times)), 2)


def cut_figures(burst: Burst, marks: CutMarks, seen: Acceptances, rate: float) -> CutFigures:
    firsts = [seen.first(address(burst.phase, i)) for i in range(burst.emails)]
    resent = [seen.first(to, after=marks.at) for to, _ in marks.held.values()]
    accepted_before = sum(1 for t in firsts if t is not None and t < marks.at)
    delivered = [t for t in firsts if t is not None]
    return CutFigures(
        host=marks.host,
        accepted_before=accepted_before,
        in_flight=len(marks.held),
        reclaimed_after=marks.reclaimed_after,
        longest_silence=longest_silence(seen, marks.at, max(delivered)) if delivered else None,
        to_last_delivery=round(max(delivered) - marks.at, 2) if delivered else None,
        to_last_held_sent=round(max(resent) - marks.at, 2) if resent and None not in resent else None,
        backlog_seconds=round((burst.emails - accepted_before) / rate, 2),
    )


def rejoin_figures(burst: Burst, marks: RejoinMarks, seen: Acceptances, sent: dict[str, list[int]]) -> RejoinFigures:
    firsts = [seen.first(burst.to_by_id[pk]) for pk in sent[marks.host] if pk in burst.to_by_id]
    firsts = [t for t in firsts if t is not None]
    return RejoinFigures(marks.host, round(min(firsts) - marks.at, 2) if firsts else None)


def markdown(figures: Figures) -> str:
    """The figures as markdown: emails per host and burst, then the rate, the cut and the rejoin."""
    a, c, d = (figures.bursts[phase] for phase in "acd")
    cut, rejoin = figures.cut, figures.rejoin
    hosts = list(a.per_host)

    def opt(value, unit: str = "", fmt: str = "{:.2f}") -> str:
        return "-" if value is None else fmt.format(value) + unit

    per_host = md(
        ["burst", *(f"{host} sent" for host in hosts), "lost", "duplicated", "throttled", "first → last accepted"],
        [
            [title, *(b.per_host[host] for host in hosts), b.lost, b.duplicated, b.throttled, f"{b.seconds:.1f} s"]
            for title, b in (
                (f"(a) {a.emails} emails, three hosts", a),
                (f"(c) {c.emails} emails, {cut.host} cut off mid-burst", c),
                (f"(d) {d.emails} emails, {rejoin.host}'s link back up", d),
            )
        ],
    )
    measures = md(
        ["measure", "value"],
        [
            [
                (
                    "global rate, steady part of (a): accepted per second, the first second and the last before its "
                    "(N − throttled)-th email left out"
                ),
                opt(a.steady_rate, " /s"),
            ],
            [f"deviation from MAILER_MAX_SEND_RATE={figures.rate:g}", opt(a.deviation_pct, " %", "{:+.2f}")],
            [
                "busiest sliding second at SES, requests accepted or throttled: (a) / (c) / (d)",
                f"{a.busiest_second} / {c.busiest_second} / {d.busiest_second}",
            ],
            ["throttled answers from SES: (a) / (c) / (d)", f"{a.throttled} / {c.throttled} / {d.throttled}"],
            [f"(c) accepted before the cut of {cut.host}", f"{cut.accepted_before} of {c.emails}"],
            [f"(c) in flight at the cut: rows {cut.host} held", cut.in_flight],
            [
                "(c) cut → last email delivered",
                (
                    f"{opt(cut.to_last_delivery, ' s')} (the {c.emails - cut.accepted_before} left needed "
                    f"{cut.backlog_seconds:.1f} s at the rate)"
                ),
            ],
            [
                f"(c) cut → every row {cut.host} held back in the outbox (lease ran out, taken back)",
                opt(cut.reclaimed_after, " s"),
            ],
            [
                "(c) longest time SES accepted nothing, from the cut to the last email of (c)",
                opt(cut.longest_silence, " s"),
            ],
            [
                f"(c) cut → last email {cut.host} held sent again (behind the emails queued before it)",
                opt(cut.to_last_held_sent, " s"),
            ],
            ["(c) lost / duplicated", f"{c.lost} / {c.duplicated} (at most {cut.in_flight}: the sends in flight)"],
            [f"(d) link up → {rejoin.host}'s first email accepted", opt(rejoin.to_first_send, " s")],
        ],
    )
    return (
        f"## Several machines: {len(hosts)} worker hosts (network namespaces), "
        f"MAILER_MAX_SEND_RATE={figures.rate:g}\n\n"
        f"Each host: {figures.worker}; MAILER_LEASE_SECONDS={figures.lease}, "
        f"MAILER_KEEPER_SECONDS={figures.keeper}, MAILER_DRAIN_SECONDS={figures.drain}; fake SES answering in "
        f"{figures.latency_ms:g} ms, refusing more than {figures.rate:g} sends in any sliding second.\n\n"
        f"{per_host}\n{measures}"
    )


# --- the whole run --------------------------------------------------------------------------------


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM are ignored while the teardown runs: half a teardown leaves namespaces and workers behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _remove(folder: Path, keep: bool) -> None:
    if keep:
        say(f"kept: {folder} (each host's email.log and worker.log, the fake SES's output)")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def run(options: Options) -> Figures:
    """The scenario from an empty machine back to one: its figures. Root only (see ``unavailable``).

    Sets up this process's Django on the private database: call it once, from a process
    whose Django is not set up yet (else ``run_isolated``).
    """
    stack = contextlib.ExitStack()
    try:
        run_dir = Path(tempfile.mkdtemp(prefix="electnepal-hosts-"))
        stack.callback(_remove, run_dir, options.keep)
        say(f"network {options.network}: namespaces, links")
        hosts = stack.enter_context(namespaces(options.network))
        say("PostgreSQL, Redis, fake SES; migrating")
        found = stack.enter_context(servers(hosts))
        ses = harness.SES(
            free_port(),
            hosts=(LOOPBACK, *(host.address for host in hosts)),
            options=("--rate", str(options.rate), "--latency-ms", str(options.latency_ms)),
            log=str(run_dir / "fake_ses.log"),
        )  # an absolute path: LOGS / log is that path
        stack.callback(ses.stop)
        use_database(found, run_dir / "enqueue")
        say(f"workers: {harness.label(harness.SHIPPED)} per host")
        workers = start_workers(hosts, found, ses, options, run_dir)
        stack.callback(stop_workers, workers)
        wait_ready(workers, run_dir)
        bursts, cut_marks, rejoin_marks = run_phases(hosts, workers, ses, options, run_dir)
        say("stopping the workers (a send held up on the cut link may still arrive)")
        stop_workers(workers)
        seen, sent = Acceptances.of(ses.log()), sent_by_host(run_dir, hosts)
        _share, cut_burst, third = bursts
        return Figures(
            rate=options.rate,
            lease=SHIPPED if options.lease is None else str(options.lease),
            keeper=SHIPPED if options.keeper is None else f"{options.keeper:g}",
            drain=SHIPPED if options.drain is None else f"{options.drain:g}",
            latency_ms=options.latency_ms,
            worker=f"`{' '.join(worker_command())} -n hostK@%h` ({harness.label(harness.SHIPPED)})",
            bursts={b.phase: burst_figures(b, seen, sent, options.rate) for b in bursts},
            cut=cut_figures(cut_burst, cut_marks, seen, options.rate),
            rejoin=rejoin_figures(third, rejoin_marks, seen, sent),
        )
    finally:
        with shielded():
            stack.close()


def run_isolated(options: Options, timeout: float = 300) -> Figures:
    """Run the scenario in a child process (``python -m bench.hosts``) and return its figures.

    For a caller whose Django is set up already (the test suite). The child sees none of
    the caller's settings, only PATH, HOME and the locale: the workers run with the
    settings' defaults and the scenario's own. Its progress and table go to the caller's
    stdout and stderr. After ``timeout`` seconds it gets SIGTERM (it then tears everything
    down) and RuntimeError is raised; so it is when the child fails.
    """
    with tempfile.TemporaryDirectory(prefix="electnepal-hosts-") as folder:
        out = Path(folder) / "figures.json"
        env = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "LC_ALL")}
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.hosts", *arguments(options), "--json", str(out)], cwd=ROOT, env=env
        )
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.terminate()
            child.wait(120)
            raise RuntimeError(f"bench.hosts took more than {timeout:.0f} s") from None
        if child.returncode:
            raise RuntimeError(f"bench.hosts failed (exit status {child.returncode})")
        return Figures.from_json(json.loads(out.read_text()))


def arguments(options: Options) -> list[str]:
    """The command line that runs ``options``."""
    argv = [
        "--emails",
        str(options.emails),
        "--rate",
        f"{options.rate:g}",
        "--lease",
        SHIPPED if options.lease is None else str(options.lease),
        "--keeper",
        SHIPPED if options.keeper is None else f"{options.keeper:g}",
        "--drain",
        SHIPPED if options.drain is None else f"{options.drain:g}",
        "--latency-ms",
        f"{options.latency_ms:g}",
        "--network",
        str(options.network),
    ]
    return argv + (["--keep"] if options.keep else [])


def _or_shipped(cast):
    return lambda text: None if text == SHIPPED else cast(text)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Options()
    parser.add_argument("--emails", type=int, default=defaults.emails, help="emails per burst (default %(default)s)")
    parser.add_argument(
        "--rate",
        type=float,
        default=defaults.rate,
        help="MAILER_MAX_SEND_RATE, and the fake SES's limit (default %(default)s)",
    )
    parser.add_argument(
        "--lease",
        type=_or_shipped(int),
        default=defaults.lease,
        help="MAILER_LEASE_SECONDS, or `shipped` (default %(default)s)",
    )
    parser.add_argument(
        "--keeper",
        type=_or_shipped(float),
        default=defaults.keeper,
        help="MAILER_KEEPER_SECONDS, or `shipped` (default %(default)s)",
    )
    parser.add_argument(
        "--drain",
        type=_or_shipped(float),
        default=SHIPPED,
        help="MAILER_DRAIN_SECONDS, or `shipped` (default %(default)s)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=defaults.latency_ms, help="the fake SES's answer time (default %(default)s)"
    )
    parser.add_argument(
        "--network",
        type=Network.parse,
        default=defaults.network,
        help="NAMESPACE_PREFIX:LINK_PREFIX:SUBNET (default %(default)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the folder of the hosts' logs")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if reason := unavailable():
        sys.exit(f"bench.hosts: {reason}")
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    options = Options(
        emails=args.emails,
        rate=args.rate,
        lease=args.lease,
        keeper=args.keeper,
        drain=args.drain,
        latency_ms=args.latency_ms,
        network=args.network,
        keep=args.keep,
    )
    try:
        figures = run(options)
    except KeyboardInterrupt:
        sys.exit("interrupted: namespaces, links, processes and folders are removed")
    print(markdown(figures), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(dataclasses.asdict(figures), indent=2))


if __name__ == "__main__":
    main()
