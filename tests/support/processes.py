"""Processes the fault tests start and kill: a private Redis (bench.services) and Celery worker processes."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.services import PrivateRedis, free_port  # noqa: F401 (free_port: for the tests)

ROOT = Path(__file__).resolve().parents[2]


# The throwaway Redis the fault tests stop and start is the fault script's.
RedisServer = PrivateRedis


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
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker",
                "worker",
                f"--concurrency={self.processes}",
                f"--hostname={self.name}@%h",
                os.environ.get("TEST_WORKER_LOGLEVEL", "--loglevel=WARNING"),
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
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
