"""Worker CPU profile: py-spy (--subprocesses --gil, non-blocking) on the first --workers configuration at SES
latency 0 ms, and its summary by stage of the delivery.

py-spy records the Celery worker and its prefork children. The summary lives here
rather than in bench/report.py: it reads py-spy's raw output and knows the
worker's call stacks (mailer.outbox.delivery's Dispatcher, the Celery plumbing),
which is this scenario's business, not the report's. Without py-spy in the
virtualenv the scenario yields nothing.
"""

import collections
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.harness import LOGS, Bench, label
from bench.report import Section
from bench.scenarios.throughput import throughput

ATTEMPT = "Dispatcher._attempt ("  # one email on a sender thread
STEP = "Dispatcher._step ("  # one turn of the drain
OUTSIDE = "outside the delivery (Celery, kombu, billiard, threading)"


def stage(names: list[str]) -> str:
    """The stage of the delivery a sample's stack (outermost frame first) is in.

    On a sender thread, the frame right after ``Dispatcher._attempt`` (build_message,
    send, _until_slot …); in the drain, the one right after ``Dispatcher._step``
    (claim_due, _collect, reserve, _screen …), prefixed "drain: "; else outside.
    """
    for marker, prefix in ((ATTEMPT, ""), (STEP, "drain: ")):
        at = next((i for i, name in enumerate(names) if name.startswith(marker)), None)
        if at is not None:
            return prefix + (names[at + 1] if at + 1 < len(names) else f"{marker.rstrip(' (')} itself")
    return OUTSIDE


def summarize_profile(path: Path, cpu_ms_per_email: float, top: int = 15) -> str:
    """Where the worker's time goes, from py-spy's raw (collapsed) output.

    Three tables: the stages of the delivery (``stage``), the top functions by
    cumulative time outside the Celery/threading plumbing, and the top leaf frames
    (own time).
    """
    own, cumulative, stages, total = collections.Counter(), collections.Counter(), collections.Counter(), 0
    plumbing = ("threading.py", "celery/", "kombu/", "billiard/", "concurrent/futures", "click/", "runpy", "vine/")
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        count = int(count)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        names = [f.rsplit(":", 1)[0] + ")" if "(" in f and ":" in f else f for f in frames]  # drop line numbers
        own[names[-1]] += count
        for name in set(names):
            if not any(p in name for p in plumbing):
                cumulative[name] += count
        stages[stage(names)] += count
    if not total:
        return "(no samples)\n"

    def table(counter, title, limit):
        rows = [f"| {title} | share | ≈ ms per email |", "| --- | --- | --- |"]
        for name, count in counter.most_common(limit):
            share = count / total
            rows.append(f"| `{name.replace('|', '/')}` | {share:.1%} | {share * cpu_ms_per_email:.2f} |")
        return "\n".join(rows) + "\n"

    return (
        f"{total} samples (py-spy --subprocesses --gil --nonblocking, 250 Hz; in each process only the "
        f"thread holding the GIL is sampled); ms per email = share × measured worker CPU per email "
        f"({cpu_ms_per_email:.2f} ms, the worker and its prefork children)\n\n"
        + table(stages, "stage: after Dispatcher._attempt (sender threads) or Dispatcher._step (drain: …)", 20)
        + "\n"
        + table(cumulative, "cumulative, outside Celery/kombu/billiard/threading", top)
        + "\n"
        + table(own, "own time (leaf frame)", top)
    )


def run(bench: Bench) -> Iterator[Section]:
    if not shutil.which("py-spy", path=str(Path(sys.executable).parent)):
        return
    raw = LOGS / "worker-profile.txt"
    raw.unlink(missing_ok=True)
    config = bench.workers[0]
    r = throughput(bench.ses, bench.n, config, 0, profile=raw)
    body = (
        f"One worker, {label(config)} (prefork processes × sender threads), SES latency 0 ms, {bench.n} emails, "
        f"{r['rate']:.1f} emails/s under the profiler, {r['cpu_ms']:.2f} ms CPU per email.\n\n"
    )
    body += summarize_profile(raw, r["cpu_ms"]) if raw.exists() else "(py-spy wrote nothing)\n"
    yield Section("Worker CPU profile (py-spy, worker and prefork children), by stage of the delivery", body)
