"""Request share of a sign-up: the POST (Django test client) with the fake SES at 0 vs 2 s, one worker running
(as shipped)."""

import statistics
import time
from collections.abc import Iterator

from bench.harness import PASSWORD, SES, SHIPPED, Bench, percentile, reset_outbox, start_worker, stop_worker
from bench.report import Section, md


def signup_latency(ses: SES, runs: int, latencies: tuple[float, ...], block: int = 10, warm: int = 3) -> dict:
    """Sign-up POSTs with the fake SES at each latency, in alternating blocks of ``block`` requests.

    Alternating (0, 2 s, 0, 2 s, …) rather than all of one then all of the other, so
    that the machine's drift over the run falls on both sides alike. After a block,
    the sends still waiting in the fake SES are let finish; each block then begins
    with ``warm`` untimed requests (the first requests after a pause ran ~30 % slower
    on both sides). The harness's own heap is frozen out of the garbage collector:
    a full collection of it took 60 ms, always at the same request, so on one side.
    """
    import gc
    import itertools

    from django.test import Client

    reset_outbox()
    worker = start_worker(SHIPPED, tag="s")
    client = Client()
    timings: dict[float, list[float]] = {latency_ms: [] for latency_ms in latencies}
    sequence = itertools.count()

    def post() -> float:
        name = f"s{next(sequence)}"
        data = {
            "username": name,
            "email": f"{name}@example.com",
            "first_name": "Sita",
            "last_name": "Sharma",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "preferred_language": "en",
        }
        started = time.perf_counter()
        response = client.post("/auth/signup/", data)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code in (200, 302), response.status_code
        return elapsed

    try:
        client.get("/auth/signup/")
        gc.collect()
        gc.freeze()
        for start in range(0, runs, block):
            for latency_ms in latencies:
                ses.configure(latency_ms=latency_ms)
                for _ in range(warm):
                    post()
                timings[latency_ms] += [post() for _ in range(min(block, runs - start))]
                time.sleep(latency_ms / 1000 + 0.2)  # this block's sends leave the fake SES
    finally:
        gc.unfreeze()
        stop_worker(worker)
    return {latency_ms: (statistics.median(t), percentile(t, 0.99)) for latency_ms, t in timings.items()}


def run(bench: Bench) -> Iterator[Section]:
    runs = 20 if bench.quick else 200
    res = signup_latency(bench.ses, runs, (0, 2000))
    yield Section(
        f"Sign-up POST (test client, {runs} runs per latency in alternating blocks of 10 after 3 "
        "untimed ones, MD5 hasher, rate limits off, one worker running as shipped)",
        md(
            ["SES latency", "median ms", "p99 ms"],
            [[f"{k / 1000:g} s", f"{m:.2f}", f"{p:.2f}"] for k, (m, p) in res.items()],
        ),
    )
