"""``mailer.sending.breaker`` on the real Redis: provider errors in a row pause every worker, doubling."""

import time

from mailer.sending import breaker


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

    breaker.provider_ok()  # the probe went through
    time.sleep(0.55)
    for _ in range(2):
        assert breaker.provider_failed("ServiceUnavailable: 503") == 0
    assert breaker.provider_failed("ServiceUnavailable: 503") == 0.2  # a run again, and the doubling from the start


def test_without_redis_nothing_is_paused_and_nothing_raises(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert breaker.paused() == (0.0, "")
    assert breaker.provider_failed("x") == 0.0
    breaker.provider_ok()
