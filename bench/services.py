"""Throwaway Redis and PostgreSQL servers that a fault script or test may stop, restart and bind where it likes.

``PrivateRedis`` and ``PrivatePostgres`` each run in a temporary folder on a free
port, bound to ``hosts`` (127.0.0.1 unless told: the multi-host scenario binds them
to the host side of its veth pairs too). ``restart()`` is what an operator's
restart does: Redis keeps its data unless told to lose it (a Redis without
persistence); PostgreSQL always does. Bound to addresses other than loopback, both
let clients in from anywhere they can be reached (no password, protected mode off,
trust in pg_hba.conf): they are throwaway servers on private links. Nothing here
touches the machine's own Redis or PostgreSQL.

PostgreSQL refuses to run as root, so as root its programs run as the ``postgres``
user (``runuser``).
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _remote(hosts: tuple[str, ...]) -> bool:
    """Whether clients may come from other machines (an address other than loopback)."""
    return any(not host.startswith("127.") for host in hosts)


def _wait(ready, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up in {timeout:.0f} s")
        time.sleep(0.05)


class PrivateRedis:
    """A redis-server of its own: ``url`` for its clients, ``stop``/``start``/``restart`` for faults."""

    def __init__(self, *, appendonly: bool = False, hosts: tuple[str, ...] = ("127.0.0.1",)):
        self.port = free_port()
        self.hosts = hosts
        self.url = f"redis://{hosts[0]}:{self.port}/0"
        self.appendonly = appendonly  # keep its data across a restart, as production's does
        self._dir = tempfile.mkdtemp(prefix="electnepal-redis-")
        self._process: subprocess.Popen | None = None

    def url_on(self, host: str) -> str:
        return f"redis://{host}:{self.port}/0"

    def start(self) -> "PrivateRedis":
        import redis

        self._process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                *self.hosts,
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always",
                "--dir",
                self._dir,
                "--protected-mode",
                "no" if _remote(self.hosts) else "yes",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(host=self.hosts[0], port=self.port)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        _wait(up, "redis-server")
        return self

    def stop(self) -> None:
        if self._process:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def restart(self, *, down_for: float = 0.0, keep_data: bool = True) -> None:
        """Stop, stay down ``down_for`` seconds, start; without ``keep_data`` it comes back empty."""
        self.stop()
        if not keep_data:  # what a Redis without persistence comes back with: nothing
            for entry in Path(self._dir).iterdir():
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        time.sleep(down_for)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _pg_bin(name: str) -> str:
    """A PostgreSQL server program: on PATH, or in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in versions:
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"PostgreSQL's {name} is not installed")


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb, trust auth, fsync off): ``url(db)``, ``restart()``."""

    def __init__(self, *, hosts: tuple[str, ...] = ("127.0.0.1",)):
        self.port = free_port()
        self.hosts = hosts
        self._dir = Path(tempfile.mkdtemp(prefix="electnepal-pg-"))
        self._data = self._dir / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self._dir, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def url(self, db: str, host: str | None = None) -> str:
        return f"postgres://postgres@{host or self.hosts[0]}:{self.port}/{db}"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as_user, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _initdb(self) -> None:
        """Create the cluster in ``self._data``: user ``postgres``, trusted."""
        self._run(_pg_bin("initdb"), "-D", str(self._data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        if _remote(self.hosts):  # initdb trusts loopback only
            with open(self._data / "pg_hba.conf", "a") as hba:
                hba.write("host all all all trust\n")

    def start(self) -> "PrivatePostgres":
        if not self._data.exists():
            self._initdb()
        options = (
            f"-p {self.port} -k {self._dir} -c listen_addresses='{','.join(self.hosts)}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self._data),
            "-o",
            options,
            "-l",
            str(self._dir / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )
        return self

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: what a restart does (clients cut off); ``immediate``: a crash."""
        if (self._data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(_pg_bin("pg_ctl"), "-D", str(self._data), "-m", mode, "-w", "stop")

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self._dir, ignore_errors=True)
