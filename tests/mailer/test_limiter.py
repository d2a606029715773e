"""``mailer.limiter.wait_for_slot`` on the real Redis: what a late wake-up does.

Rate and quota across processes are tested end to end in test_guarantees.py.
"""

import time

from mailer.sending import limiter


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
