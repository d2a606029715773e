"""Benchmarks, not tests: the mail pipeline (``python -m bench``, ``make bench``) and separate commands.

- __main__.py: the pipeline benchmark's command line; runs the chosen scenarios in order.
- harness.py: processes, the fake SES client, database, Redis, workers, CPU accounting.
- report.py: the pipeline report's markdown tables, sections and file.
- scenarios/: one module per pipeline scenario (the names of ``--skip``).
- fake_ses.py, cleanup.py, render.py, enumeration.py: ``python -m bench.<name>``.
"""
