"""``mailer.sending.breaker`` on the real Redis: provider errors in a row pause every worker, doubling.

Also SES down, end to end.
"""

import time

from django.db.models import Max

from mailer.models import Email
from mailer.sending import breaker
from tests.support.outbox import delivery_report, queue_many
from tests.support.processes import WorkerProcess, broker
from tests.support.waits import wait_for
from worker import app


def test_a_run_of_provider_errors_pauses_and_a_send_that_goes_through_resets(db, settings):
    settings.MAILER_PAUSE_AFTER_ERRORS = 3
    settings.MAILER_PAUSE_BASE_SECONDS = 0.2
    settings.MAILER_PAUSE_CAP_SECONDS = 0.5
    assert breaker.paused() == (0.0, "")
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0
    breaker.provider_ok()  # a send went through: the run starts again
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0
    assert breaker.provider_failed("Throttling: Maximum sending rate exceeded.") == 0.2
    left, why = breaker.paused()
    assert 0 < left <= 0.2 and why == "Throttling: Maximum sending rate exceeded."
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0  # while paused, no new pause

    time.sleep(0.25)
    assert breaker.paused() == (0.0, "")
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0.4  # the probe failed: twice as long, at once
    time.sleep(0.45)
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0.5  # capped

    time.sleep(0.55)
    breaker.provider_ok()  # the probe, after the pause, went through
    for _ in range(2):
        assert breaker.provider_failed("ServiceUnavailable: 503") == 0
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0.2  # a run again, and the doubling from the start


def test_after_a_pause_one_worker_probes_and_the_others_wait_for_it(db, settings):
    settings.MAILER_PAUSE_AFTER_ERRORS = 1
    settings.MAILER_PAUSE_BASE_SECONDS = 0.2
    assert breaker.gate("a") == ("open", 0.0)
    breaker.provider_failed("ServiceUnavailable: 503")
    verdict, left = breaker.gate("a")
    assert verdict == "paused" and 0 < left <= 0.2

    time.sleep(0.25)
    assert breaker.gate("a") == ("probe", 0.0)
    assert breaker.gate("a") == ("probe", 0.0)  # still its own
    verdict, lapses = breaker.gate("b")
    assert verdict == "wait" and lapses > 15  # the longest send: a dead prober's probe passes on

    breaker.provider_failed("ServiceUnavailable: 503")  # the probe failed: paused again, the probe freed
    assert breaker.gate("b")[0] == "paused"
    breaker.provider_ok()  # a send from before the pause came back fine: it is not the probe
    assert breaker.gate("b")[0] == "paused"
    time.sleep(0.45)
    assert breaker.gate("b") == ("probe", 0.0)
    breaker.provider_ok()  # b's probe went through: open to all
    assert breaker.gate("a") == breaker.gate("b") == ("open", 0.0)


def test_without_redis_nothing_is_paused_and_nothing_raises(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert breaker.paused() == (0.0, "")
    assert breaker.provider_failed("x") == 0.0
    assert breaker.gate("a") == ("open", 0.0)
    breaker.provider_ok()


def test_ses_down_for_a_while_then_back(transactional_db, ses, private_redis, worker_env):
    """SES answers 503 to everything for 4 s: nothing is lost or failed, and sending resumes by itself."""
    env = {
        **worker_env,
        "MAILER_PAUSE_BASE_SECONDS": "0.5",
        "MAILER_PAUSE_CAP_SECONDS": "2",
        "MAILER_MAX_ATTEMPTS": "3",
    }
    with broker(app, private_redis.url):
        worker = WorkerProcess(env).start()
        try:
            queue_many(20, prefix="before")
            wait_for(lambda: Email.objects.filter(status="sent").count() == 20, timeout=60)
            ses.faults.set_rates(unavailable=1.0)  # SES down
            queue_many(200, prefix="during")
            time.sleep(4)
            requests_while_down = ses.faults.send_requests - 20
            ses.faults.set_rates()  # SES back
            back = time.time()
            wait_for(lambda: not Email.objects.exclude(status__in=Email.FINAL_STATUSES).exists(), timeout=60)
            last = time.time()
        finally:
            worker.stop()
    report = delivery_report(ses, 220)
    print(
        f"\nSES down 4 s: {requests_while_down} requests while down; {report}; "
        f"last email {last - back:.1f} s after SES came back"
    )
    assert report["lost"] == 0 and report["failed"] == 0 and report["duplicated"] == 0
    # Paused, not hammering: far fewer tries than emails, and none used up an email's attempts.
    assert requests_while_down < 100
    assert Email.objects.aggregate(most=Max("attempts"))["most"] <= 20
