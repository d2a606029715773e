"""Limiter: MAILER_MAX_SEND_RATE=50, one worker of 4 processes × 8 threads, against a fake SES throttling above 50/s.

Cold (emails queued, then the worker starts) and warm (worker warmed up, then the
emails queued), for each --headroom: achieved rate, the busiest sliding second,
emails accepted in the first 10 s, the gaps between sends and the throttled
answers (target 0).
"""

import itertools
from collections.abc import Iterator

from bench.harness import (
    SES,
    WORKER,
    Bench,
    Config,
    enqueue_one,
    label,
    percentile,
    reset_outbox,
    start_worker,
    stop_worker,
    warm_up,
)
from bench.report import Section, md


def limiter(
    ses: SES,
    rate: float,
    seconds: float,
    config: Config,
    latency_ms: float,
    warm: bool = False,
    headroom: float = 0.015,
) -> dict:
    """Cold: the emails are queued first and the worker starts on them (start-up CPU included).
    Warm: the worker is started and warmed up first, then the emails are queued."""
    reset_outbox()
    n = int(rate * seconds)
    if not warm:
        for i in range(n):
            enqueue_one(f"lim{i}@example.com")
        ses.configure(latency_ms=latency_ms, rate=rate)
    worker = start_worker(
        config, env={"MAILER_MAX_SEND_RATE": str(rate), "MAILER_RATE_HEADROOM": str(headroom)}, tag="r"
    )
    try:
        if warm:
            warm_up(ses, config)
            ses.configure(latency_ms=latency_ms, rate=rate)
            for i in range(n):
                enqueue_one(f"lim{i}@example.com")
        stats = ses.wait_accepted(n, timeout=seconds * 4 + 60)
    finally:
        stop_worker(worker)
    arrivals = sorted(arrived for arrived, _, _ in ses.log())
    busiest, j = 0, 0
    for i, t in enumerate(arrivals):  # sends in the sliding second ending at each arrival
        while arrivals[j] <= t - 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
    # Ten seconds average out any one burst: whether the limiter holds the rate over time
    # (at most 10 × rate; all n when the run is shorter than 10 s).
    first_10s = sum(1 for t in arrivals if t < arrivals[0] + 10)
    throttled = stats.get("throttled", 0)
    gaps = sorted((b - a) * 1000 for a, b in itertools.pairwise(arrivals))
    # Before the first throttled call's retry: the sends the limiter spaced, without backoff tails.
    first_pass = arrivals[: n - throttled]
    return {
        "n": n,
        "rate": rate,
        "label": label(config),
        "latency_ms": latency_ms,
        "achieved": (n - 1) / (arrivals[-1] - arrivals[0]),
        "steady": (len(first_pass) - 1) / (first_pass[-1] - first_pass[0]),
        "busiest": busiest,
        "first_10s": first_10s,
        "throttled": throttled,
        "throttled_after": [round(t - arrivals[0], 2) for t in stats["throttled_at"]],
        "faults": stats.get("fault", 0),
        "warm": warm,
        "headroom": headroom,
        "gap_min": gaps[0],
        "gap_p1": percentile(gaps, 0.01),
        "gap_p50": percentile(gaps, 0.5),
    }


MEASURES = [
    ("emails", lambda r: r["n"]),
    (WORKER, lambda r: r["label"]),
    ("SES latency", lambda r: f"{r['latency_ms']:.0f} ms"),
    ("achieved rate, first → last accepted send (retries included)", lambda r: f"{r['achieved']:.1f} /s"),
    ("achieved rate of the first pass (the n − throttled first sends)", lambda r: f"{r['steady']:.1f} /s"),
    (
        "MAILER_RATE_HEADROOM → spacing target",
        lambda r: (
            f"{r['headroom']:g} → "
            f"{r['rate'] * (1 - r['headroom']):.1f} /s ({1000 / (r['rate'] * (1 - r['headroom'])):.1f} ms apart)"
        ),
    ),
    ("busiest sliding second", lambda r: f"{r['busiest']} sends"),
    (
        "emails accepted in the first 10 s (first arrival → + 10 s)",
        lambda r: f"{r['first_10s']} (at most {10 * r['rate']:.0f}; {r['n']} queued)",
    ),
    (
        "gap between consecutive SES arrivals: min / p1 / median",
        lambda r: f"{r['gap_min']:.1f} / {r['gap_p1']:.1f} / {r['gap_p50']:.1f} ms",
    ),
    ("throttling answers from SES", lambda r: r["throttled"]),
    ("throttled calls, seconds after the first send", lambda r: ", ".join(map(str, r["throttled_after"][:20])) or "-"),
]


def run(bench: Bench) -> Iterator[Section]:
    runs = [
        limiter(bench.ses, 50, 4 if bench.quick else 10, (4, 8), 50, warm=warm, headroom=headroom)
        for headroom in bench.headroom
        for warm in (False, True)
    ]
    yield Section(
        "Limiter: MAILER_MAX_SEND_RATE=50, fake SES throttling above 50 in any sliding second",
        "Cold: the emails are queued, then the worker starts. Warm: the worker is started and "
        "warmed up, then the emails are queued.\n\n"
        + md(
            ["measure", *(f"{'warm' if r['warm'] else 'cold'}, headroom {r['headroom']:.1%}" for r in runs)],
            [[name, *(get(r) for r in runs)] for name, get in MEASURES],
        ),
    )
