"""Three worker hosts, each a network namespace, sharing one outbox (bench/hosts.py, small).

The scenario of ``make hosts`` at 100 emails a burst, 50/s, leases of 3 s: the three
hosts send together; one host's link is cut mid-burst, and nothing is lost, and
no more is sent twice than that host had in flight; back on the network, it sends
again. The rate is checked loosely (a loaded 2-core machine shifts sends by tens
of milliseconds); the precise figures are the make target's. Needs root (network
namespaces, veth pairs) and skips otherwise. Run with ``-s`` to see the table.
"""

import pytest

from bench import hosts

OPTIONS = hosts.Options(emails=100, rate=50, lease=3, keeper=0.5, network=hosts.TEST_NETWORK)


def test_hosts_share_the_outbox_and_a_host_cut_off_loses_nothing():
    if reason := hosts.unavailable():
        pytest.skip(f"three worker hosts need network namespaces: {reason}")
    figures = hosts.run_isolated(OPTIONS, timeout=240)
    share, cut_burst, rejoined = (figures.bursts[phase] for phase in "acd")
    cut = figures.cut

    assert [b.complete for b in (share, cut_burst, rejoined)] == [True] * 3
    assert (share.lost, cut_burst.lost, rejoined.lost) == (0, 0, 0)
    # Sent twice: only what SES had from the cut host when its link went down.
    assert cut_burst.duplicated <= cut.in_flight
    assert share.duplicated == rejoined.duplicated == 0
    assert min(share.per_host.values()) >= 1, share.per_host
    assert rejoined.per_host[figures.rejoin.host] >= 1, rejoined.per_host
    # One limiter for all hosts: SES never had many more requests than the rate in a second
    # (a send late on a busy CPU, or held up on the cut link, may be one too many and be
    # throttled: 52 have been seen; a limiter per host would make it 100 or more), and
    # 100 emails take about 2 s, not a third of it.
    for b in (share, cut_burst, rejoined):
        assert b.busiest_second <= OPTIONS.rate + 5
    assert (share.emails - 1) / (OPTIONS.rate + 2) - 1 <= share.seconds <= 4 * share.emails / OPTIONS.rate + 15
