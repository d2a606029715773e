"""The outbox's figures (mailer.ops.aggregates), against known rows (ops/conftest.py).

``created_by_kind``, ``delivery_counts``, ``backlog`` and ``quota_use`` are checked through
what shows them: ops/test_report.py, ops/test_metrics.py, ops/test_alerts.py.
"""

from mailer.ops import aggregates


def test_hourly_counts_match_the_rows(rows):
    starts, counts = aggregates.hourly_counts()
    assert len(starts) == 24
    assert counts[starts[-1]] == {"sent": 3, "failed": 1}
    assert counts[starts[-6]] == {"sent": 2}
    assert sum(sum(c.values()) for c in counts.values()) == 6
