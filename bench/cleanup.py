"""Benchmark of the nightly cleanup: ``python -m bench.cleanup [--rows 1000000]``.

Creates its own PostgreSQL database (electnepal_cleanup_bench), migrates it, inserts
N expired verification tokens (plus 1 % live ones, which must survive) with one
``INSERT ... SELECT generate_series`` and times ``accounts.cleanup.cleanup()``:
the dry run (counts), then the real run (rows/s, batches of BATCH_SIZE ids), then
memory: the process's peak RSS (ru_maxrss) before and after, and in a second run
over freshly inserted rows, tracemalloc's peak of Python allocations during the
cleanup (a separate run, because tracing slows Python down).

Writes a markdown table to bench/results/cleanup-<timestamp>.md and the console.
Not part of the tests.
"""

import argparse
import os
import resource
import sys
import time
import tracemalloc

from bench.harness import ROOT, create_database, django_env

DB_NAME = "electnepal_cleanup_bench"
ENV = django_env(DB_NAME)
USERS = 4


def insert_tokens(rows: int, *, first: int) -> tuple[int, float]:
    """Insert ``rows`` expired tokens (4 days old) and rows // 100 live ones; return (live, seconds)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import EmailVerification, User

    started = time.perf_counter()
    users = [
        User.objects.get_or_create(
            username=f"bench{i}", defaults={"email": f"bench{i}@example.com", "email_verified_at": timezone.now()}
        )[0].pk
        for i in range(USERS)
    ]
    live = rows // 100
    table = EmailVerification._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # md5(i)||md5(i+1) is 64 hex characters, distinct for every i: a stand-in for a SHA-256.
        sql = f"""
            INSERT INTO {table} (token_hash, created_at, user_id, verified_at)
            SELECT left(md5(i::text) || md5((i + 1)::text), 64), now() - %s::interval,
                   (ARRAY[{",".join(map(str, users))}])[1 + i %% {USERS}], NULL
            FROM generate_series(%s, %s) AS i
        """
        cursor.execute(sql, ["4 days", first, first + rows - 1])
        cursor.execute(sql, ["1 hour", first + rows, first + rows + live - 1])
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
    return live, time.perf_counter() - started


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="expired tokens to delete (default 1,000,000)")
    parser.add_argument("--batch-size", type=int, default=None, help="ids per delete transaction (default BATCH_SIZE)")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the second, traced run")
    args = parser.parse_args()

    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    create_database(DB_NAME, ENV)

    import django

    django.setup()
    from accounts.cleanup import BATCH_SIZE, cleanup
    from accounts.models import EmailVerification

    batch_size = args.batch_size or BATCH_SIZE
    live, insert_seconds = insert_tokens(args.rows, first=1)

    started = time.perf_counter()
    dry = cleanup(dry_run=True)
    dry_seconds = time.perf_counter() - started
    assert dry["verification_tokens"] == args.rows, dry

    rss_before = maxrss_mib()
    started = time.perf_counter()
    counts = cleanup(batch_size=batch_size)
    seconds = time.perf_counter() - started
    rss_after = maxrss_mib()
    assert counts["verification_tokens"] == args.rows, counts
    assert EmailVerification.objects.count() == live, "live tokens must survive"

    rows = [
        ("expired verification tokens", f"{args.rows:,} (+ {live:,} live, kept)"),
        ("insert (generate_series) + VACUUM ANALYZE", f"{insert_seconds:.1f} s"),
        ("dry run (counts)", f"{dry_seconds:.2f} s"),
        (f"cleanup, batches of {batch_size:,} ids", f"{seconds:.1f} s"),
        ("rows deleted per second", f"{args.rows / seconds:,.0f}"),
        ("batches (one short transaction each)", f"{-(-args.rows // batch_size):,}"),
        ("peak RSS before → after the cleanup (ru_maxrss)", f"{rss_before:.0f} → {rss_after:.0f} MiB"),
    ]

    if not args.no_tracemalloc:
        insert_tokens(args.rows, first=args.rows + live + 1)
        tracemalloc.start()
        started = time.perf_counter()
        traced = cleanup(batch_size=batch_size)
        traced_seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert traced["verification_tokens"] == args.rows, traced
        rows += [
            ("Python allocations during the cleanup, peak (tracemalloc)", f"{peak / 2**20:.1f} MiB"),
            ("cleanup time under tracemalloc (second run)", f"{traced_seconds:.1f} s"),
        ]

    table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows) + "\n"
    print(table)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / time.strftime("cleanup-%Y%m%d-%H%M%S.md")).write_text(table)


if __name__ == "__main__":
    main()
