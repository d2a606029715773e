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

# Slot times are this process's clock at the call plus Redis's offsets: on a loaded machine the
# two calls' round trips differ by a few ms (0.03 s of slack; a wrong slot is a whole interval off).


def test_a_grant_is_consecutive_slots_one_interval_apart(db, settings):
    settings.MAILER_MAX_SEND_RATE = 20  # slots ~51 ms apart
    interval = limiter.interval()
    first = limiter.reserve(3, horizon=1.0)
    second = limiter.reserve(2, horizon=1.0)
    assert (first.count, second.count) == (3, 2)
    assert first.wait < 0.01 and first.interval == interval
    assert second.slot(0) - first.slot(2) == pytest.approx(interval, abs=0.03)  # the next grant goes after


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
    assert after.slot(0) - grant.slot(1) == pytest.approx(grant.interval, abs=0.03)  # right after the two used
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
    assert nxt.slot(0) - theirs.slot(0) == pytest.approx(mine.interval, abs=0.03)


def test_the_24h_quota_grants_what_is_left_then_says_when(db, settings):
    settings.MAILER_MAX_SEND_RATE = 0  # no rate: the quota alone
    settings.MAILER_MAX_24H_SEND = 5
    settings.MAILER_QUOTA_WINDOW_SECONDS = 60
    assert limiter.reserve(3).count == 3
    assert limiter.reserve(10).count == 2
    refused = limiter.reserve(1)
    assert (refused.count, refused.held_by) == (0, "quota") and 59 < refused.wait <= 60
    assert 59 < limiter.quota_blocked() <= 60


def test_the_last_share_of_the_quota_is_kept_for_security_email(db, settings):
    settings.MAILER_MAX_SEND_RATE = 0
    settings.MAILER_MAX_24H_SEND = 10
    settings.MAILER_24H_SECURITY_RESERVE = 0.2
    settings.MAILER_QUOTA_WINDOW_SECONDS = 60
    first = limiter.reserve(5)
    assert (first.count, first.bulk) == (5, 5)
    second = limiter.reserve(5)
    assert (second.count, second.bulk) == (5, 3)  # slots 9 and 10 are security email's only
    limiter.release(second, 1)  # a drain that found only four emails
    assert limiter.quota_blocked() == 0 and 59 < limiter.quota_blocked(bulk=True) <= 60
    last = limiter.reserve(5)
    assert (last.count, last.bulk) == (1, 0)


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
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_ses", str(port), str(log)], cwd=django_settings.BASE_DIR
    )
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
    print(
        f"\nrate limit 20/s, 2 workers x 2 processes: {in_ten_seconds} sent in 10 s, "
        f"busiest 1-s window {busiest_second}"
    )
    assert in_ten_seconds <= 210
    # Slots leave the workers MAILER_RATE_HEADROOM apart; what arrives is also shifted by the
    # trip to SES, which on a loaded 2-core machine can squeeze one more send into a sliding
    # second. A shared limiter broken across processes sends twice the rate; a grant spent
    # at once, a burst of threads.
    assert busiest_second <= 21


def test_security_email_goes_out_when_bulk_email_has_used_its_share_of_the_quota(e2e, ses, settings):
    settings.MAILER_MAX_24H_SEND = 10
    settings.MAILER_24H_SECURITY_RESERVE = 0.2
    settings.MAILER_QUOTA_WINDOW_SECONDS = 3600
    queue_many(10, prefix="bulk")
    wait_for(lambda: Email.objects.filter(status="sent").count() == 8, timeout=30)
    queue_many(2, prefix="reset", priority=Email.Priority.HIGH)
    wait_for(
        lambda: Email.objects.filter(status="sent", priority="high").count() == 2,
        timeout=30,
        message="the reset emails, sent from the reserve",
    )
    assert Email.objects.filter(status="queued").count() == 2  # bulk waits for its share to free
    assert Email.objects.filter(status="sent", priority="bulk").count() == 8


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


# --- Throttling: the rate adapts to what SES accepts --------------------------------


def _cut_seconds_ago(seconds: float) -> None:
    """Move the last throttle cut back in time, as if ``seconds`` had passed since (Redis's clock)."""
    from mailer.sending.redis_client import redis_client

    client = redis_client(django_settings.REDIS_URL)
    client.hincrbyfloat(limiter.SCALE_KEY, "at", -seconds)


def rate_scale() -> float:
    """The share of the configured rate the limiter grants now: the spacing of a fresh grant, read back."""
    return limiter.interval() / limiter.reserve(1, horizon=60.0).interval


def test_a_throttle_cuts_the_rate_once_then_it_climbs_back(db, settings):
    settings.MAILER_MAX_SEND_RATE = 10
    settings.MAILER_THROTTLE_FACTOR = 0.75
    settings.MAILER_THROTTLE_RECOVERY_SECONDS = 10  # +0.1 of the rate per second
    full = limiter.interval()
    assert limiter.reserve(1, horizon=1.0).interval == pytest.approx(full)

    assert limiter.throttled() == pytest.approx(0.75)
    assert limiter.throttled() is None  # the sends already under way at the old rate: no second cut
    assert limiter.reserve(1, horizon=1.0).interval == pytest.approx(full / 0.75, rel=0.01)

    _cut_seconds_ago(1.5)  # 1.5 s without a throttle: climbed 0.15
    assert rate_scale() == pytest.approx(0.90, abs=0.01)
    assert limiter.throttled() == pytest.approx(0.90 * 0.75, abs=0.01)  # cut from where it had climbed to

    _cut_seconds_ago(60)
    assert rate_scale() == pytest.approx(1.0)  # back to the full rate, never beyond


def test_throttling_never_stops_sending(db, settings):
    settings.MAILER_THROTTLE_FACTOR = 0.5
    settings.MAILER_THROTTLE_RECOVERY_SECONDS = 1e6  # no climbing back in between
    for _ in range(30):
        limiter.throttled()
        _cut_seconds_ago(1.0)  # past the cooldown, with no time to climb
    assert rate_scale() == pytest.approx(limiter.MIN_SCALE, abs=0.01)


def test_workers_settle_at_the_rate_ses_accepts(transactional_db, private_redis, worker_env):
    """SES accepts 10/s while the workers are told 20/s: they slow down instead of pausing.

    Before the rate adapted, every throttle fed the breaker, and the workers alternated
    between pauses and bursts at the configured rate, half of which SES refused.
    """
    from bench.harness import SES
    from tests.support.processes import free_port

    ses = SES(free_port(), options=("--rate", "10"), log=None)
    env = {
        **worker_env,
        "MAILER_MAX_SEND_RATE": "20",
        "AWS_SES_REGION_ENDPOINT_URL": ses.url,
        "MAILER_THROTTLE_RECOVERY_SECONDS": "30",
    }
    try:
        with broker(app, private_redis.url):
            queue_many(150)
            workers = [WorkerProcess(env, name=f"t{i}").start() for i in range(2)]
            try:
                all_final(timeout=120)
            finally:
                for worker in workers:
                    worker.stop()
        stats = ses.stats()
        accepted = [to for _, _, to in ses.log()]
    finally:
        ses.stop()
    print(f"\nSES at 10/s, workers told 20/s, 150 emails: {stats}")
    assert sorted(set(accepted)) == sorted(accepted) and len(accepted) == 150  # none lost, none twice
    assert set(Email.objects.values_list("status", flat=True)) == {"sent"}
    # Each cut answers a handful of sends made at the old rate; then the rate stays under SES's.
    assert stats["throttled"] <= 0.2 * 150
