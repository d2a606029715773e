"""``mailer.sending.limiter`` on the real Redis: a late wake-up, the rate across processes, the 24 h quota.

The rate and the quota are checked end to end: worker processes sending to an SES
that records when each send arrives, and the real worker sending to moto.
"""

import time

import pytest
from django.conf import settings as django_settings

from mailer.models import Email
from mailer.sending import limiter
from tests.support.outbox import all_final, queue_many
from tests.support.processes import WorkerProcess, broker
from tests.support.waits import wait_for
from worker import app


def test_a_thread_that_wakes_too_late_lets_its_slot_go(db, settings):
    settings.MAILER_MAX_SEND_RATE = 20  # slots ~51 ms apart
    settings.MAILER_RATE_HEADROOM = 0.015  # tolerance ~7.6 ms
    interval, tolerance = limiter._interval(), limiter._late_tolerance()
    assert limiter.wait_for_slot(high_priority=True) == 0  # takes the free slot: the next one is ahead
    sleeps = []

    def oversleeping(seconds):  # the first wake-up comes 3 tolerances late, as on a starved CPU
        sleeps.append(seconds)
        time.sleep(seconds + (3 * tolerance if len(sleeps) == 1 else 0))

    assert limiter.wait_for_slot(high_priority=True, sleep=oversleeping) == 0

    assert len(sleeps) == 2  # the late slot was given up and a new one reserved
    assert 0 < sleeps[1] <= interval


def test_a_thread_on_time_keeps_its_slot(db, settings):
    settings.MAILER_MAX_SEND_RATE = 20
    limiter.wait_for_slot(high_priority=True)
    sleeps = []

    def on_time(seconds):
        sleeps.append(seconds)
        time.sleep(seconds)

    assert limiter.wait_for_slot(high_priority=True, sleep=on_time) == 0
    assert len(sleeps) == 1


# --- Across worker processes ----------------------------------------------------------


@pytest.fixture
def timing_ses(tmp_path):
    """tests.support.fake_ses in its own process; returns (url, arrival times reader)."""
    import subprocess
    import sys
    import urllib.request

    from tests.support.processes import free_port

    port, log = free_port(), tmp_path / "arrivals.txt"
    process = subprocess.Popen([sys.executable, "-m", "tests.support.fake_ses", str(port), str(log)],
                               cwd=django_settings.BASE_DIR)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            urllib.request.urlopen(urllib.request.Request(url + "/", data=b""), timeout=1)
            return True
        except OSError:
            return False

    wait_for(up, timeout=10)
    yield url, lambda: sorted(float(line) for line in log.read_text().split())
    process.terminate()
    process.wait(10)


def test_send_rate_holds_across_worker_processes(transactional_db, private_redis, worker_env, timing_ses):
    url, arrivals = timing_ses
    env = {**worker_env, "MAILER_MAX_SEND_RATE": "20", "AWS_SES_REGION_ENDPOINT_URL": url}
    with broker(app, private_redis.url):
        queue_many(240)
        workers = [WorkerProcess(env, concurrency=4).start() for _ in range(2)]
        try:
            all_final(timeout=60)
        finally:
            for worker in workers:
                worker.stop()
    times = arrivals()
    assert len(times) == 240
    first = times[0]
    in_ten_seconds = sum(1 for t in times if t < first + 10)
    busiest_second = max(sum(1 for u in times[i:] if u < t + 1) for i, t in enumerate(times))
    print(f"\nrate limit 20/s, 2 processes x 4 threads: {in_ten_seconds} sent in 10 s, busiest 1-s window {busiest_second}")
    assert in_ten_seconds <= 210
    assert busiest_second <= 20


def test_daily_quota_stops_sending_then_resumes(e2e, ses, settings):
    settings.MAILER_MAX_24H_SEND = 5
    settings.MAILER_QUOTA_WINDOW_SECONDS = 2  # the 24 h window, shortened
    queue_many(8)
    all_final(timeout=30)
    times = sorted(ses.faults.accepted_at)
    assert len(times) == 8
    assert times[5] - times[0] >= 1.9  # the sixth waited for the window to move on
    assert set(Email.objects.values_list("status", "attempts")) == {("sent", 1)}  # waiting spent no attempt
