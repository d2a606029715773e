"""``mailer.sending.limiter`` on the real Redis: slots, horizon, quota, giving back; then end to end.

The rate and the quota are checked end to end as well: worker processes sending to
an SES that records when each send arrives, and the real worker sending to moto.
"""

import time

import pytest
from django.conf import settings as django_settings

from mailer.models import Email
from mailer.outbox.delivery import Dispatcher
from mailer.sending import limiter, transport
from tests.support.outbox import all_final, queue_many
from tests.support.processes import WorkerProcess, broker
from tests.support.waits import wait_for
from worker import app


def test_a_grant_is_consecutive_slots_one_interval_apart(db, settings):
    settings.MAILER_MAX_SEND_RATE = 20  # slots ~51 ms apart
    interval = limiter.interval()
    first = limiter.reserve(3, horizon=1.0)
    second = limiter.reserve(2, horizon=1.0)
    assert (first.count, second.count) == (3, 2)
    assert first.wait < 0.01 and first.interval == interval
    assert second.slot(0) - first.slot(2) == pytest.approx(interval, abs=0.01)  # the next grant goes after


def test_nothing_is_granted_beyond_the_horizon(db, settings):
    settings.MAILER_MAX_SEND_RATE = 10  # ~0.1 s apart
    grant = limiter.reserve(50, horizon=0.35)
    assert grant.count == 4  # now, +0.1, +0.2, +0.3
    none = limiter.reserve(5, horizon=0.35)
    assert none.count == 0 and none.held_by == "rate"
    assert 0 < none.wait <= 0.2  # come back when the next free slot enters the horizon


def test_unused_slots_are_given_back(db, settings):
    settings.MAILER_MAX_SEND_RATE = 10
    settings.MAILER_MAX_24H_SEND = 100
    grant = limiter.reserve(5, horizon=1.0)
    limiter.release(grant, 3)  # found two emails for five slots
    after = limiter.reserve(1, horizon=1.0)
    assert after.slot(0) - grant.slot(1) == pytest.approx(grant.interval, abs=0.01)  # right after the two used
    assert limiter.quota_blocked() == 0
    from mailer.ops.aggregates import quota_use

    assert quota_use()["used"] == 3  # two kept, one more reserved; the three given back are forgotten


def test_giving_back_after_someone_else_reserved_keeps_the_clock(db, settings):
    settings.MAILER_MAX_SEND_RATE = 10
    mine = limiter.reserve(5, horizon=1.0)
    theirs = limiter.reserve(1, horizon=1.0)
    limiter.release(mine, 3)
    nxt = limiter.reserve(1, horizon=2.0)
    # Their slot stays where it was and the clock does not move back under it.
    assert nxt.slot(0) - theirs.slot(0) == pytest.approx(mine.interval, abs=0.01)


def test_the_24h_quota_grants_what_is_left_then_says_when(db, settings):
    settings.MAILER_MAX_SEND_RATE = 0  # no rate: the quota alone
    settings.MAILER_MAX_24H_SEND = 5
    settings.MAILER_QUOTA_WINDOW_SECONDS = 60
    assert limiter.reserve(3).count == 3
    assert limiter.reserve(10).count == 2
    refused = limiter.reserve(1)
    assert (refused.count, refused.held_by) == (0, "quota") and 59 < refused.wait <= 60
    assert 59 < limiter.quota_blocked() <= 60


def test_a_thread_that_wakes_too_late_lets_its_slot_go(db, settings):
    settings.MAILER_MAX_SEND_RATE = 20  # slots ~51 ms apart
    settings.MAILER_RATE_HEADROOM = 0.015  # tolerance ~7.6 ms
    grant = limiter.reserve(1, horizon=1.0)
    missed = grant.slot(0) - 3 * limiter.late_tolerance()  # as if the thread woke three tolerances late
    slot = Dispatcher()._until_slot(missed)
    # It let that slot go and took the next free one: after the grant, never next to another send.
    assert slot is not None and slot >= grant.slot(0) + grant.interval - 0.01
    assert time.monotonic() >= slot - 0.01


def test_a_thread_on_time_keeps_its_slot(db, settings):
    settings.MAILER_MAX_SEND_RATE = 20
    grant = limiter.reserve(1, horizon=1.0)
    assert Dispatcher()._until_slot(grant.slot(0)) == grant.slot(0)


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
        workers = [WorkerProcess(env, name=f"w{i}").start() for i in range(2)]
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
    print(f"\nrate limit 20/s, 2 workers x 2 processes: {in_ten_seconds} sent in 10 s, busiest 1-s window {busiest_second}")
    assert in_ten_seconds <= 210
    # Slots leave the workers MAILER_RATE_HEADROOM apart; what arrives is also shifted by the
    # trip to SES, which on a loaded 2-core machine can squeeze one more send into a sliding
    # second. A shared limiter broken across processes sends twice the rate; a grant spent
    # at once, a burst of threads.
    assert busiest_second <= 21


def test_daily_quota_stops_sending_then_resumes(e2e, ses, settings):
    settings.MAILER_MAX_24H_SEND = 5
    settings.MAILER_QUOTA_WINDOW_SECONDS = 2  # the 24 h window, shortened
    transport.connection()  # the SES client of these settings: a cold first send would arrive late
    queue_many(8)
    all_final(timeout=30)
    times = sorted(ses.faults.accepted_at)
    assert len(times) == 8
    assert times[5] - times[0] >= 1.9  # the sixth waited for the window to move on
    assert set(Email.objects.values_list("status", "attempts")) == {("sent", 1)}  # waiting spent no attempt
