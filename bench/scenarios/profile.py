"""Worker CPU profile: py-spy (--gil, non-blocking) on one worker at SES latency 0 ms, and its summary.

The summary lives here rather than in bench/report.py: it reads py-spy's raw
output and knows the worker's call stacks (email_deliver, the Celery plumbing),
which is this scenario's business, not the report's. Without py-spy in the
virtualenv the scenario yields nothing.
"""

import collections
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.harness import LOGS, Bench
from bench.report import Section
from bench.scenarios.throughput import throughput


def summarize_profile(path: Path, cpu_ms_per_email: float, top: int = 15) -> str:
    """Where the worker's time goes, from py-spy's raw (collapsed) output.

    Three tables: the stages of email_deliver (its direct callees), the top
    functions by cumulative time outside the Celery/threading plumbing, and the top
    leaf frames (own time).
    """
    own, cumulative, stages, total = collections.Counter(), collections.Counter(), collections.Counter(), 0
    outside = collections.Counter()
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
        deliver = [i for i, name in enumerate(names) if name.startswith("email_deliver (")]
        if deliver:
            i = deliver[0]
            stages[names[i + 1] if i + 1 < len(names) else "email_deliver itself"] += count
        else:
            stages["(outside email_deliver: Celery consumer, task protocol, acks, Redis polling)"] += count
            leaf = names[-1]
            outside[leaf[leaf.rfind("(") + 1:].rstrip(")") if "(" in leaf else leaf] += count
    if not total:
        return "(no samples)\n"

    def table(counter, title, limit):
        rows = [f"| {title} | share | ≈ ms per email |", "| --- | --- | --- |"]
        for name, count in counter.most_common(limit):
            share = count / total
            rows.append(f"| `{name.replace('|', '/')}` | {share:.1%} | {share * cpu_ms_per_email:.2f} |")
        return "\n".join(rows) + "\n"

    return (f"{total} samples (py-spy --gil --nonblocking, 250 Hz; only the thread holding the GIL is sampled); "
            f"ms per email = share × measured worker CPU per email ({cpu_ms_per_email:.2f} ms)\n\n"
            + table(stages, "stage (direct callee of email_deliver)", 20) + "\n"
            + table(cumulative, "cumulative, outside Celery/kombu/threading", top) + "\n"
            + table(own, "own time (leaf frame)", top) + "\n"
            + table(outside, "outside email_deliver: own time by file", top))


def run(bench: Bench) -> Iterator[Section]:
    if not shutil.which("py-spy", path=str(Path(sys.executable).parent)):
        return
    raw = LOGS / "worker-profile.txt"
    raw.unlink(missing_ok=True)
    r = throughput(bench.ses, bench.n, 1, bench.concurrency, 0, profile=raw)
    body = (f"One worker × {bench.concurrency} threads, SES latency 0 ms, {bench.n} emails, "
            f"{r['rate']:.1f} emails/s under the profiler, {r['cpu_ms']:.2f} ms CPU per email.\n\n")
    body += summarize_profile(raw, r["cpu_ms"]) if raw.exists() else "(py-spy wrote nothing)\n"
    yield Section("Worker CPU profile (py-spy)", body)
