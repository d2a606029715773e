"""bin/ensure-services: honours DATABASE_URL and REDIS_URL (passwords included), portable, says what to do.

Run as a process, as `make test` runs it, with a PATH reduced to what every Unix
has (bash, python3 and a few POSIX tools): no `timeout`, no pg_isready, redis-cli
or Debian's pg_ctlcluster, so none of them can be what makes it pass. Services
with passwords are throwaway servers of the test's own; the suite itself then runs
against the PostgreSQL one to show that the tests connect with the URL's password.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.support.database import database_url
from tests.support.postgres import PasswordPostgres
from tests.support.processes import free_port

ROOT = Path(settings.BASE_DIR)
SCRIPT = ROOT / "bin" / "ensure-services"
# What every Unix has; python3 is the Makefile's Python (checked to be 3.11 there).
PORTABLE = ["bash", "sh", "env", "uname", "grep", "awk", "sed", "cat", "sleep", "dirname", "basename"]
PLATFORMS = ("Debian/Ubuntu:", "Fedora:", "macOS (Homebrew):")


@pytest.fixture(scope="module")
def portable_path(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("bin")
    for name in PORTABLE:
        os.symlink(shutil.which(name), folder / name)
    os.symlink(sys.executable, folder / "python3")
    return str(folder)


def run(portable_path, **env) -> subprocess.CompletedProcess:
    environ = {"PATH": portable_path, "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run([str(SCRIPT)], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


@pytest.fixture
def password_redis(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            "s3cret pass/word",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0:
                break
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def password_postgres():
    server = PasswordPostgres(user="electnepal", password="p@ss:w/rd").start()
    yield server
    server.cleanup()


def test_no_gnu_only_tool_and_no_fixed_host():
    code = "\n".join(line for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"(^|[\s;&|(])timeout\s+\d", code)  # GNU coreutils' timeout
    assert "127.0.0.1:6379" not in code.replace("redis://127.0.0.1:6379/15", "")  # only the suite's default
    assert "pg_ctlcluster" in code  # still used, for a stopped Debian cluster only


def test_services_that_answer_pass_with_a_portable_path(portable_path, db):
    result = run(portable_path, DATABASE_URL=database_url(connection), REDIS_URL=settings.REDIS_URL)
    assert result.returncode == 0, result.stderr
    assert "redis: up at" in result.stdout and "postgresql: up at" in result.stdout


def test_redis_url_with_a_password(portable_path, password_redis, db):
    good = f"redis://:s3cret%20pass%2Fword@127.0.0.1:{password_redis}/3"
    result = run(portable_path, DATABASE_URL=database_url(connection), REDIS_URL=good)
    assert result.returncode == 0, result.stderr
    assert f"redis: up at 127.0.0.1:{password_redis}" in result.stdout

    wrong = run(
        portable_path, DATABASE_URL=database_url(connection), REDIS_URL=f"redis://:wrong@127.0.0.1:{password_redis}/3"
    )
    assert wrong.returncode == 1
    assert "refuses REDIS_URL's credentials" in wrong.stderr and "wrong" not in wrong.stderr.replace("WRONGPASS", "")


def test_postgres_url_with_a_password(portable_path, password_postgres):
    result = run(portable_path, DATABASE_URL=password_postgres.url("electnepal"), REDIS_URL=settings.REDIS_URL)
    assert result.returncode == 0, result.stderr
    assert "user electnepal logs in and may create databases" in result.stdout

    wrong = run(
        portable_path, DATABASE_URL=password_postgres.url("electnepal", password="nope"), REDIS_URL=settings.REDIS_URL
    )
    assert wrong.returncode == 1
    assert "user electnepal cannot log in with DATABASE_URL's credentials" in wrong.stderr
    assert "password authentication failed" in wrong.stderr


def test_missing_services_say_what_to_do_on_each_platform(portable_path):
    port = free_port()
    no_postgres = run(
        portable_path, DATABASE_URL=f"postgres://sita:pw@127.0.0.1:{port}/electnepal", REDIS_URL=settings.REDIS_URL
    )
    assert no_postgres.returncode == 1
    assert f"postgresql: nothing answers at 127.0.0.1:{port}" in no_postgres.stderr
    assert "sita:****@" in no_postgres.stderr and ":pw@" not in no_postgres.stderr  # the password is not shown
    for platform in (*PLATFORMS, "Docker:"):
        assert platform in no_postgres.stderr
    assert "sudo -u postgres createuser --createdb sita" in no_postgres.stderr
    assert "brew services start postgresql@17" in no_postgres.stderr

    no_redis = run(
        portable_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/x", REDIS_URL=f"redis://127.0.0.1:{port}/0"
    )  # no redis-server on this PATH: nothing to start
    assert no_redis.returncode == 1
    assert f"redis: nothing answers at 127.0.0.1:{port}" in no_redis.stderr
    for platform in PLATFORMS:
        assert platform in no_redis.stderr
    assert "brew install redis" in no_redis.stderr and "sudo dnf install valkey" in no_redis.stderr


def test_the_suite_connects_with_the_password_in_database_url(password_postgres, tmp_path):
    """pytest-django creates its test database, and a process a test starts logs in, with the URL's password."""
    env = {
        **os.environ,
        "DATABASE_URL": password_postgres.url("electnepal"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    test = "tests/mailer/ops/test_report.py::test_the_process_exit_status_is_2_over_the_threshold"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
