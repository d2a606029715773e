"""A worker's start and stop (mailer.outbox.lifecycle): a deploy's SIGTERM loses nothing and sends nothing twice.

On SIGTERM Celery stops taking messages and the pool process finishes its drain
(MAILER_DRAIN_SECONDS at most, 1 s here) before it exits: what it claimed is sent
and recorded. Rolling restarts in the middle of a burst therefore lose nothing and
duplicate nothing. Fault tests print their figures: run with ``-s`` to see them.

A worker gives way to the web processes of its host (MAILER_WORKER_NICE), also
where the kernel shares the CPU between sessions first (autogroup).
"""

import os
import subprocess
import sys
import time

import pytest

from mailer.models import Email
from tests.support.outbox import delivery_report, queue_many
from tests.support.processes import WorkerProcess, broker
from tests.support.waits import wait_for
from worker import app


def test_rolling_restarts_during_a_burst_lose_nothing_and_send_nothing_twice(
    transactional_db, ses, private_redis, worker_env
):
    ses.faults.delay = 0.02  # sends in flight at every SIGTERM
    env = {**worker_env, "MAILER_DRAIN_SECONDS": "1"}
    stops = []
    with broker(app, private_redis.url):
        workers = [WorkerProcess(env, name=f"w{i}").start() for i in range(2)]
        try:
            queue_many(400)
            for restart in range(6):
                wait_for(lambda n=40 * (restart + 1): Email.objects.filter(status="sent").count() >= n, timeout=60)
                old = workers[restart % 2]
                began = time.monotonic()
                old.stop()
                stops.append(time.monotonic() - began)
                workers[restart % 2] = WorkerProcess(env, name=f"w{restart % 2}-{restart}").start()
            wait_for(lambda: not Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists(), timeout=90)
        finally:
            for worker in workers:
                worker.stop()
    report = delivery_report(ses, 400)
    print(
        f"\n6 rolling restarts (SIGTERM) during 400 emails: {report}; stops took "
        + ", ".join(f"{s:.1f}" for s in stops)
        + " s"
    )
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["failed"] == 0
    assert all(s < 15 for s in stops)  # a warm shutdown, never the SIGKILL after stop()'s timeout
    assert not Email.objects.filter(attempts__gt=1).exists()  # nothing was taken back and tried again


SPIN = """
import os, sys, time
os.sched_setaffinity(0, {0})
if sys.argv[1] == "worker":
    import django
    django.setup()
    from mailer.outbox.lifecycle import give_way
    give_way(10)
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()
count, end = 0, time.monotonic() + 2.0
while time.monotonic() < end:
    count += 1
print(count)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="the kernel groups no sessions (autogroup)")
def test_a_worker_in_a_session_of_its_own_gives_way_to_a_web_process():
    """On one CPU a worker (MAILER_WORKER_NICE 10) gets a small share beside a busy web process.

    Each runs in a session of its own, as under systemd or in a terminal each: the
    worker's nice alone would leave them half and half (autogroup).
    """
    if _autogroup_disabled():
        pytest.skip("autogroup is built in but switched off (kernel.sched_autogroup_enabled=0)")
    spinners = {
        role: subprocess.Popen(
            [sys.executable, "-c", SPIN, role],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for role in ("web", "worker")
    }
    try:
        for process in spinners.values():
            assert process.stdout.readline() == "ready\n"
        for process in spinners.values():
            process.stdin.write("go\n")
            process.stdin.flush()
        counts = {role: int(process.communicate(timeout=30)[0]) for role, process in spinners.items()}
    finally:
        for process in spinners.values():
            process.kill()
    print(f"\none CPU for 2 s, iterations: {counts}")
    # Weights 1024 against 110 (nice 10): about 9 to 1; half and half without the session's nice.
    assert counts["worker"] * 3 < counts["web"], counts


def _autogroup_disabled() -> bool:
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as flag:
            return flag.read().strip() == "0"
    except OSError:
        return False
