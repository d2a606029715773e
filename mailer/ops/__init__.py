"""Operations: what the people who run the site see and are told.

- ``aggregates``: the one home of every figure (``created_by_kind``,
  ``delivery_counts``, ``backlog``, ``hourly_counts``, ``quota_use``);
- ``report``: ``mail_stats``, ``render_text`` (``manage.py mailstats``);
- ``metrics``: ``metrics_view`` (``/mailer/metrics/``, Prometheus);
- ``dashboard``: ``dashboard_view`` (``/admin/mailer/dashboard/``);
- ``alerts``: ``alerts_check`` (beat task ``mailer.alerts``);
- ``mailcheck``: the checks of ``manage.py mailcheck``;
- ``history``: ``history``, ``preview``: a row's story in the admin's email log.

Imports ``outbox``, ``sending``, ``rendering`` and ``mailer.models``; only the URLconfs,
``admin``, ``tasks`` and the management commands import it.
"""
