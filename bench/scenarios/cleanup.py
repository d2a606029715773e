"""Cleanup: runs ``python -m bench.cleanup --rows N`` (the nightly token cleanup) and reports its table.

bench/cleanup.py stays a command of its own; here it runs in a child process
without the pipeline's environment, since it makes and uses its own database.
"""

import os
import subprocess
import sys
from collections.abc import Iterator

from bench.harness import ENV, PROCS, ROOT, Bench
from bench.report import Section


def run_cleanup(rows: int) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bench.cleanup", "--rows", str(rows)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ENV},
        timeout=3600,
    )
    if result.returncode:
        return f"cleanup failed:\n\n```\n{result.stderr[-2000:]}\n```\n"
    return result.stdout


def run(bench: Bench) -> Iterator[Section]:
    PROCS.stop_all()  # the cleanup bench needs no worker or SES
    yield Section(f"Cleanup (bench/cleanup.py --rows {bench.cleanup_rows})", run_cleanup(bench.cleanup_rows))
