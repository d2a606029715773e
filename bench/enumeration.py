"""Timing of known and unknown addresses: ``python -m bench.enumeration [--runs 50]``.

For sign-up, resend-verification, forgot-password and login, POSTs the form for an
address (or username) that has an account and for one that has none, alternating
the two so that drift hits both alike, and reports the median and p90 request
time of each and their difference. Requests go through Django's test client, so
the whole middleware stack, the form, the service, the database transaction and
the publish to Redis are measured; the network is not.

Production settings where they matter: the PBKDF2 hasher at full strength (the
test suite uses MD5; ``--fast-hasher`` uses MD5 here too, which takes the hash,
done once on every path, out of the figures to show the rest), rate limits off (the limits would answer 429), a real
PostgreSQL database (electnepal_enum_bench) and Redis (database 13). No worker
runs: queued tasks stay in Redis and are flushed at the end.

Writes a markdown table to bench/results/enumeration-<timestamp>.md and the
console. Not part of the tests: timings belong here, not in assertions.
"""

import argparse
import os
import statistics
import sys
import time

from bench.harness import PASSWORD, ROOT, TEST_CLIENT, create_database, django_env, percentile

DB_NAME = "electnepal_enum_bench"
ENV = django_env(
    DB_NAME,
    REDIS_URL="redis://127.0.0.1:6379/13",
    **TEST_CLIENT,
    # The worst case for a known address: every resend makes a new link.
    ACCOUNTS_RESEND_INTERVAL_SECONDS="0",
)


def timed(post) -> float:
    started = time.perf_counter()
    response = post()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code in (200, 302), response.status_code
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--fast-hasher",
        action="store_true",
        help="MD5 instead of PBKDF2: takes the hash (the same on both paths) out, to see the rest of the work",
    )
    args = parser.parse_args()

    if args.fast_hasher:
        ENV["PASSWORD_HASHERS"] = "django.contrib.auth.hashers.MD5PasswordHasher"
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import redis

    redis.Redis.from_url(ENV["REDIS_URL"]).flushdb()
    create_database(DB_NAME, ENV)

    import django

    django.setup()
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User

    known = User(username="known", email="known@example.com", email_verified_at=timezone.now())
    known.set_password(PASSWORD)
    known.save()
    pending = User(username="pending", email="pending@example.com", is_active=False)
    pending.set_password(PASSWORD)
    pending.save()

    client = Client()
    client.get("/auth/login/")  # warm up: templates, URLconf, connections

    def signup(email: str, i: int):
        data = {
            "username": f"u{i}-{email.split('@')[0]}",
            "email": email,
            "first_name": "Sita",
            "last_name": "Sharma",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "preferred_language": "en",
        }
        return lambda: client.post("/auth/signup/", data)

    cases = {
        # name: (known request maker, unknown request maker); i makes unknown sign-ups unique
        "signup": (lambda i: signup("known@example.com", i), lambda i: signup(f"new{i}@example.com", i)),
        "resend-verification": (
            lambda i: lambda: client.post("/auth/resend-verification/", {"email": "pending@example.com"}),
            lambda i: lambda: client.post("/auth/resend-verification/", {"email": f"nobody{i}@example.com"}),
        ),
        "forgot-password": (
            lambda i: lambda: client.post("/auth/forgot-password/", {"email": "known@example.com"}),
            lambda i: lambda: client.post("/auth/forgot-password/", {"email": f"nobody{i}@example.com"}),
        ),
        "login (wrong password)": (
            lambda i: lambda: client.post("/auth/login/", {"username": "known", "password": "wrong-password"}),
            lambda i: lambda: client.post("/auth/login/", {"username": f"nobody{i}", "password": "wrong-password"}),
        ),
        "login (unverified account, wrong password)": (
            lambda i: lambda: client.post("/auth/login/", {"username": "pending", "password": "wrong-password"}),
            lambda i: lambda: client.post("/auth/login/", {"username": f"nobody{i}", "password": "wrong-password"}),
        ),
    }
    rows = []
    for name, (known_post, unknown_post) in cases.items():
        timed(known_post(-1)), timed(unknown_post(-1))  # warm up this path
        known_ms, unknown_ms = [], []
        for i in range(args.runs):
            # Alternate which goes first, so neither always follows the other.
            if i % 2:
                known_ms.append(timed(known_post(i)))
                unknown_ms.append(timed(unknown_post(i)))
            else:
                unknown_ms.append(timed(unknown_post(i)))
                known_ms.append(timed(known_post(i)))
        k, u = statistics.median(known_ms), statistics.median(unknown_ms)
        rows.append((name, k, u, k - u, percentile(known_ms, 0.9), percentile(unknown_ms, 0.9)))

    redis.Redis.from_url(ENV["REDIS_URL"]).flushdb()
    hasher = "MD5 (--fast-hasher)" if args.fast_hasher else "PBKDF2 at production strength"
    table = (
        f"{args.runs} runs each, median (p90) in ms, {hasher}\n\n"
        "| form | known address | unknown address | median difference |\n| --- | --- | --- | --- |\n"
        + "\n".join(f"| {n} | {k:.2f} ({k90:.2f}) | {u:.2f} ({u90:.2f}) | {d:+.2f} |" for n, k, u, d, k90, u90 in rows)
        + "\n"
    )
    print(table)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    suffix = "-fast-hasher" if args.fast_hasher else ""
    (results / time.strftime(f"enumeration-%Y%m%d-%H%M%S{suffix}.md")).write_text(table)


if __name__ == "__main__":
    main()
