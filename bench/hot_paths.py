"""What each hot-path workaround buys: ``python -m bench.hot_paths [--n 2000]``.

Every workaround the delivery path keeps for a library's cost, measured against
what the library does by itself, in one process, alternating the two sides in
blocks so that the machine's drift falls on both alike:

- the batch claim and the batched record of sends (mailer.outbox.state) against
  the ORM's select_for_update + UPDATE + SELECT, and an UPDATE per email;
- the suppression check through the ``LOWER(address)`` index
  (mailer.outbox.suppression) against ``address__iexact`` (``UPPER``), 200,000 rows;
- one redis.Redis per kombu channel (worker.broker) against kombu's client per
  command: a task published through each, and what building one client costs;
- the batched delete's one array parameter (common.batches) against Django's
  ``IN (%s, …)``, 5,000 ids a batch;
- the workers' counters added up in memory (mailer.sending.counters) against one
  Redis transaction per email;
- a persistent database connection (CONN_MAX_AGE) against one per email;
- one SES client per process (mailer.sending.transport) against django-ses's
  client per connection; the warm-up's probe against a cold first send;
- dkim's absence recorded (mailer.sending.transport) against django-ses's failing
  ``import dkim`` per message; MIME boundaries drawn up front
  (mailer.outbox.message.OutboxMessage) against the generator's search for one.

Uses its own PostgreSQL database (electnepal_hotpaths, dropped and created), Redis
database 10 (flushed) and bench/fake_ses.py. Prints a markdown table and writes it
to bench/results/hot-paths-<timestamp>.md. Not part of the tests; the figures go to
docs/performance.md.
"""

import argparse
import gc
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "electnepal_hotpaths"
REDIS_URL = "redis://127.0.0.1:6379/10"
SES_PORT = 5797
ENV = {
    "DJANGO_SETTINGS_MODULE": "electnepal.settings",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": REDIS_URL,
    # Derived, and as long as the settings ask for without DEBUG (electnepal/startup_checks.py).
    "SECRET_KEY": hashlib.sha256(b"electnepal-bench:" + str(ROOT).encode()).hexdigest(),
    "READ_DOT_ENV": "false",
    "SITE_URL": "https://electnepal.test",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SES_REGION_NAME": "us-east-1",
    "AWS_SES_REGION_ENDPOINT_URL": f"http://127.0.0.1:{SES_PORT}",
    "DEFAULT_FROM_EMAIL": "ElectNepal <no-reply@electnepal.test>",
    "LOG_DIR": str(ROOT / "var" / "bench-logs"),
    "MAILER_MAX_SEND_RATE": "0",
}
CONTEXT = {"first_name": "Sita", "username": "sita", "login_url": "https://electnepal.test/auth/login/"}


def prepare_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env={**os.environ, **ENV})


def compare(name: str, workaround, library, *, n: int, block: int = 50, unit: str = "µs") -> dict:
    """Run ``workaround(i)`` and ``library(i)`` for i in range(n), alternating blocks; wall and CPU per call.

    Either side may be None (a cost measured alone).
    """
    sides = {side: (fn, [], []) for side, fn in (("workaround", workaround), ("library", library)) if fn}
    gc.collect()
    for start in range(0, n, block):
        for fn, walls, cpus in sides.values():
            for i in range(start, min(n, start + block)):
                wall0, cpu0 = time.perf_counter(), time.process_time()
                fn(i)
                walls.append(time.perf_counter() - wall0)
                cpus.append(time.process_time() - cpu0)
    scale = 1e6 if unit == "µs" else 1e3
    result = {"name": name, "n": n, "unit": unit}
    for side, (_, walls, cpus) in sides.items():
        # process_time ticks coarsely for one call: the mean over all calls is the figure.
        result[side] = {"wall_median": statistics.median(walls) * scale, "cpu_mean": statistics.fmean(cpus) * scale}
    return result


@contextmanager
def fake_ses():
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_ses", "--port", str(SES_PORT)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{SES_PORT}/stats", timeout=1).read()
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise SystemExit("the fake SES did not start") from exc
                time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(10)


# --- the outbox's statements ---------------------------------------------------------


def outbox_statements(n: int, batch: int = 16) -> list[dict]:
    """A drain's claim and its record of sends, ``batch`` rows a call, against the ORM's way of doing the same."""
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from mailer.models import Email
    from mailer.outbox import state

    Status = Email.Status
    now = timezone.now()
    calls = max(1, n // batch)
    Email.objects.bulk_create(
        Email(template="accounts/email/welcome", to=f"p{i}@example.com", context=CONTEXT, next_attempt_at=now)
        for i in range(2 * calls * batch)
    )
    claimed: dict[str, list[list[int]]] = {"ours": [], "orm": []}

    def our_claim(i):
        claimed["ours"].append([e.pk for e in state.claim_due(limit=batch, owner="bench")])

    def orm_claim(i):
        now = timezone.now()
        with transaction.atomic():
            ids = list(
                Email.objects.select_for_update(skip_locked=True)
                .filter(status=Status.QUEUED, next_attempt_at__lte=now)
                .order_by("priority", "next_attempt_at")
                .values_list("pk", flat=True)[:batch]
            )
            Email.objects.filter(pk__in=ids).update(
                status=Status.SENDING,
                attempts=F("attempts") + 1,
                claimed_by="bench",
                lease_expires_at=now + timedelta(seconds=30),
                updated_at=now,
            )
            claimed["orm"].append([e.pk for e in Email.objects.filter(pk__in=ids)])

    def orm_sent(i):
        now = timezone.now()
        for pk in claimed["orm"][i]:
            Email.objects.filter(pk=pk, status=Status.SENDING, claimed_by="bench").update(
                status=Status.SENT,
                message_id=f"m{pk}",
                last_error="",
                sent_at=now,
                lease_expires_at=None,
                claimed_by="",
                secret_context="",
                updated_at=now,
            )

    claim = compare(
        f"claim {batch} due rows: one `UPDATE … RETURNING` over `FOR UPDATE SKIP LOCKED` picks "
        "(outbox.state.claim_due) vs ORM select_for_update + update + select",
        our_claim,
        orm_claim,
        n=calls,
        block=10,
    )
    sent = compare(
        f"record {batch} sends: one `UPDATE … FROM unnest(…)` (outbox.state.mark_sent) vs an ORM update per email",
        lambda i: state.mark_sent([(pk, f"m{pk}") for pk in claimed["ours"][i]], owner="bench"),
        orm_sent,
        n=calls,
        block=10,
    )
    assert Email.objects.filter(status=Status.SENT).count() == 2 * calls * batch
    return [claim, sent]


def suppression(n: int, rows: int = 200_000) -> dict:
    from django.db import connection

    from mailer.models import Suppression
    from mailer.outbox.suppression import suppressed

    table = Suppression._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (address, reason, detail, created_at) "
            f"SELECT 'person' || g || '@example.com', 'bounce', '', now() FROM generate_series(1, %s) g",
            [rows],
        )
        cursor.execute(f"ANALYZE {table}")
    return compare(
        f"suppression check, {rows:,} addresses: `LOWER(address) = LOWER(%s)` (outbox.suppression) "
        "vs `address__iexact`",
        lambda i: suppressed(f"Nobody{i}@Example.com"),  # most recipients are not on the list
        lambda i: Suppression.objects.filter(address__iexact=f"Nobody{i}@Example.com").exists(),
        n=n,
        block=10,
    )


# --- Redis and the broker ------------------------------------------------------------


def broker(n: int) -> list[dict]:
    import redis
    from kombu import Connection

    from worker import app

    pool = redis.ConnectionPool.from_url(REDIS_URL)
    client = compare(
        "build a redis.Redis on an existing pool (what kombu does per command)",
        None,
        lambda i: redis.Redis(connection_pool=pool),
        n=n,
    )

    connections = {
        side: Connection(REDIS_URL, transport=transport)
        for side, transport in (("ours", "worker.broker:Transport"), ("stock", "kombu.transport.redis:Transport"))
    }
    producers = {
        side: app.amqp.Producer(conn.default_channel, auto_declare=False) for side, conn in connections.items()
    }
    queue = "electnepal.hotpaths"

    def publish(side):
        return lambda i: app.send_task("mailer.deliver", (i,), queue=queue, producer=producers[side])

    result = compare(
        "publish a task (Celery send_task): one client per channel (worker.broker) vs kombu's per command",
        publish("ours"),
        publish("stock"),
        n=n,
    )
    redis.Redis.from_url(REDIS_URL).delete(queue)
    for conn in connections.values():
        conn.release()
    return [client, result]


def counters(n: int) -> dict:
    from django.conf import settings

    from mailer.sending import counters as c

    def record(interval):
        def run(i):
            # A plain assignment: override_settings would signal a settings change per call.
            settings.MAILER_METRICS_FLUSH_SECONDS = interval
            c.record_send(latency_s=0.2, duration_s=0.05, priority="bulk")

        return run

    result = compare(
        "count a send (sending.counters.record_send): added up, flushed ≤ once a second, "
        "vs one Redis transaction per email",
        record(1.0),
        record(0),
        n=n,
    )
    c.flush()
    return result


# --- the database connection ----------------------------------------------------------


def connections(n: int) -> dict:
    from django.db import connection

    from mailer.models import Email

    def persistent(i):
        Email.objects.filter(pk=-1).exists()

    def per_email(i):
        connection.close()
        Email.objects.filter(pk=-1).exists()

    return compare(
        "one query on a persistent connection (CONN_MAX_AGE) vs connecting for it", persistent, per_email, n=n, block=20
    )


# --- deleting in batches ----------------------------------------------------------------


def batched_delete(batches: int = 6, size: int = 5000) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import EmailVerification, User
    from common.batches import _delete_rows

    user = User.objects.create(username="hot", email="hot@example.com", email_verified_at=timezone.now())
    table = EmailVerification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, token_hash, created_at) "
            f"SELECT %s, md5(g::text) || md5((g + 1)::text), now() FROM generate_series(1, %s) g",
            [user.pk, 2 * batches * size],
        )
    ids = list(EmailVerification.objects.order_by("pk").values_list("pk", flat=True))
    ours, theirs = ids[: batches * size], ids[batches * size :]
    array = _delete_rows(EmailVerification)

    def run(delete, pool):
        def one(i):
            with transaction.atomic():
                assert delete(pool[i * size : (i + 1) * size]) == size

        return one

    return compare(
        f"delete a batch of {size:,} ids: one array parameter (common.batches) vs Django's IN (%s, …)",
        run(array, ours),
        run(lambda chunk: EmailVerification.objects.filter(pk__in=chunk).delete()[0], theirs),
        n=batches,
        block=1,
        unit="ms",
    )


# --- the SES client ------------------------------------------------------------------

COLD_SEND = """
import json, os, time, django
django.setup()
from mailer.models import Email
from mailer.outbox.message import build_message
from mailer.sending import transport
email = Email(pk=1, template="accounts/email/welcome", to="cold@example.com", context={context})
build_message(email)  # templates parsed: only the SES client is cold
cpu0, wall0 = time.process_time(), time.perf_counter()
transport.connection()
built_cpu, built_wall = time.process_time() - cpu0, time.perf_counter() - wall0
if {probe}:
    transport.probe()
times = []
for _ in range(3):
    started = time.perf_counter()
    transport.send(build_message(email))
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps({{"client_cpu_ms": built_cpu * 1000, "first_ms": times[0], "next_ms": min(times[1:])}}))
"""


def ses_client(reps: int = 5) -> list[dict]:
    import django_ses

    from mailer.sending import transport

    # django-ses by itself: a session and a client per backend connection.
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clients, cpu = [], []
    for _ in range(10):
        backend = django_ses.SESBackend()
        cpu0 = time.process_time()
        backend.open()
        cpu.append(time.process_time() - cpu0)
        clients.append(backend.connection)
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 10 / 1024
    transport.connection()  # ours, built once in this thread

    def shared(i):
        import threading

        thread = threading.Thread(target=transport.connection)
        thread.start()
        thread.join()

    ours = compare(
        "a thread's SES connection: the process's shared client (sending.transport) vs django-ses's own client",
        shared,
        lambda i: django_ses.SESBackend().open(),
        n=20,
        block=5,
        unit="ms",
    )
    ours["note"] = f"django-ses: {statistics.fmean(cpu) * 1000:.0f} ms CPU and about {rss:.1f} MiB per client"

    cold = {"probe": [], "no probe": []}
    for _ in range(reps):
        for side, probe in (("probe", True), ("no probe", False)):
            out = subprocess.run(
                [sys.executable, "-c", COLD_SEND.format(context=repr(CONTEXT), probe=probe)],
                cwd=ROOT,
                env={**os.environ, **ENV},
                capture_output=True,
                text=True,
                check=True,
            )
            cold[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    warm = {
        "name": "a process's first send: after the warm-up's probe (sending.warmup) vs cold",
        "n": reps,
        "unit": "ms",
        "workaround": {
            "wall_median": statistics.median(r["first_ms"] for r in cold["probe"]),
            "cpu_mean": float("nan"),
        },
        "library": {
            "wall_median": statistics.median(r["first_ms"] for r in cold["no probe"]),
            "cpu_mean": float("nan"),
        },
        "note": "later sends: " + f"{statistics.median(r['next_ms'] for r in cold['no probe']):.1f} ms",
    }
    return [ours, warm]


# --- building and handing over the message ----------------------------------------------


def message_path(n: int) -> list[dict]:
    import sys

    import django_ses
    from django.core.mail import EmailMultiAlternatives

    import mailer.sending.transport  # noqa: F401 (records dkim's absence, as a worker does)
    from mailer.models import Email
    from mailer.outbox.message import OutboxMessage
    from mailer.rendering import templates

    results = []
    if sys.modules.get("dkim", "absent") is None:

        def failing_import(i):
            del sys.modules["dkim"]
            try:
                django_ses.dkim_sign(b"message")
            finally:
                sys.modules["dkim"] = None

        results.append(
            compare(
                "django-ses's `import dkim` per message, dkim not installed: absence recorded "
                "(sending.transport) vs searched for every time",
                lambda i: django_ses.dkim_sign(b"message"),
                failing_import,
                n=n,
            )
        )
    email = Email(template="accounts/email/welcome", to="sita@example.com", context=CONTEXT, language="ne")
    rendered = templates.render(template=email.template, context=CONTEXT, language="ne")

    def mime(cls):
        def build(i):
            message = cls(
                subject=rendered.subject, body=rendered.text, from_email="no-reply@electnepal.test", to=[email.to]
            )
            message.attach_alternative(rendered.html, "text/html")
            return message.message().as_bytes()

        return build

    results.append(
        compare(
            "MIME bytes of the welcome email (ne): boundaries drawn up front "
            "(outbox.message.OutboxMessage) vs the generator's own",
            mime(OutboxMessage),
            mime(EmailMultiAlternatives),
            n=n,
        )
    )
    return results


# --- report -------------------------------------------------------------------------


def table(results: list[dict]) -> str:
    lines = [
        "| what | n | workaround: wall median / CPU mean | library: wall median / CPU mean | note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]

    def cell(side, unit):
        if not side:
            return "–"
        cpu = side["cpu_mean"]
        return f"{side['wall_median']:.1f} / {'–' if cpu != cpu else f'{cpu:.1f}'} {unit}"

    lines.extend(
        f"| {r['name']} | {r['n']} | {cell(r.get('workaround'), r['unit'])} | "
        f"{cell(r.get('library'), r['unit'])} | {r.get('note', '')} |"
        for r in results
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="calls per side for the per-email measures")
    args = parser.parse_args()
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    prepare_database()
    import django
    import redis

    django.setup()
    redis.Redis.from_url(REDIS_URL).flushdb()
    results = []
    results += outbox_statements(args.n)
    results.append(suppression(max(20, args.n // 20)))
    results += broker(args.n)
    results.append(counters(args.n))
    results.append(connections(max(100, args.n // 10)))
    results.append(batched_delete())
    results += message_path(args.n)
    with fake_ses():
        results += ses_client()
    report = (
        f"# Hot paths, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n\n{os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}; each side alternated in blocks; wall = median of single calls, "
        f"CPU = process time over all calls / n.\n\n" + table(results)
    )
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / time.strftime("hot-paths-%Y%m%d-%H%M%S.md")).write_text(report)


if __name__ == "__main__":
    main()
