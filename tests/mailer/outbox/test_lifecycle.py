"""A worker's start and stop (mailer.outbox.lifecycle): a deploy's SIGTERM loses nothing and sends nothing twice.

On SIGTERM Celery stops taking messages and the pool process finishes its drain
(MAILER_DRAIN_SECONDS at most, 1 s here) before it exits: what it claimed is sent
and recorded. Rolling restarts in the middle of a burst therefore lose nothing and
duplicate nothing. Fault tests print their figures: run with ``-s`` to see them.
"""

import time

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
