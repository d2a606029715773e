"""Processes the fault tests start and kill: a private Redis and Celery worker processes."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on its own port, which a test may stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="electnepal-redis-")
        self._process: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self._dir],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self._process:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class WorkerProcess:
    """``celery -A worker worker`` as production runs it (prefork, one child per core unless
    ``processes`` says), against the test database, in a process group of its own."""

    def __init__(self, env: dict[str, str], processes: int = 2, name: str = "w"):
        self.env = env
        self.processes = processes
        self.name = name
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", f"--concurrency={self.processes}",
             f"--hostname={self.name}@%h", os.environ.get("TEST_WORKER_LOGLEVEL", "--loglevel=WARNING"),
             "--without-mingle", "--without-gossip", "--without-heartbeat"],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("TEST_WORKER_LOGLEVEL") else subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def children(self) -> list[int]:
        """The pids of the pool's processes (prefork children)."""
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def kill(self) -> None:
        """SIGKILL to the whole worker (main and children): no warm shutdown, claims left behind."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM, as a deploy does: the worker finishes its drain, then exits."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
            if self.process.poll() is None:
                self.kill()


@contextlib.contextmanager
def broker(app, url: str):
    """Point this process's Celery app (publishing) and its Redis (doorbell, limiter) at ``url``.

    As a worker process started with ``REDIS_URL=url`` sees them: the doorbell's
    "on its way" key must live where the worker clears it.
    """
    from django.test import override_settings

    old = app.conf.broker_url

    def switch(to: str) -> None:
        app.conf.broker_url = to
        app._pool = None
        app.amqp._producer_pool = None

    switch(url)
    try:
        with override_settings(REDIS_URL=url):
            yield
    finally:
        switch(old)
