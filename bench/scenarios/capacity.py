"""Fake SES capacity: an aiohttp client with 64 connections at 0 and 50 ms, to show the fake SES is no bottleneck."""

import asyncio
import json
import time
from collections.abc import Iterator

from bench.harness import SES, Bench
from bench.report import Section, md


def measure_fake_ses(ses: SES, seconds: float, latency_ms: float, concurrency: int = 64) -> tuple[float, float]:
    """(requests/s, fake SES CPU µs per request) under an aiohttp client with ``concurrency`` connections."""
    import base64

    import aiohttp

    mime = ("To: probe@example.com\r\nSubject: probe\r\n\r\n" + "x" * 12000).encode()
    body = json.dumps(
        {"FromEmailAddress": "no-reply@electnepal.test", "Content": {"Raw": {"Data": base64.b64encode(mime).decode()}}}
    )
    ses.configure(latency_ms=latency_ms)
    cpu0 = ses.stats()["cpu_seconds"]

    async def run() -> int:
        done = 0
        deadline = time.monotonic() + seconds
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one():
                nonlocal done
                while time.monotonic() < deadline:
                    async with session.post(
                        ses.url + "/v2/email/outbound-emails", data=body, headers={"Content-Type": "application/json"}
                    ) as response:
                        await response.read()
                        done += response.status == 200

            await asyncio.gather(*(one() for _ in range(concurrency)))
        return done

    started = time.monotonic()
    done = asyncio.run(run())
    elapsed = time.monotonic() - started
    cpu = ses.stats()["cpu_seconds"] - cpu0
    return done / elapsed, cpu * 1e6 / max(done, 1)


def run(bench: Bench) -> Iterator[Section]:
    rows = []
    for latency_ms in (0, 50):
        rps, cpu_us = measure_fake_ses(bench.ses, 2 if bench.quick else 4, latency_ms)
        rows.append([f"{latency_ms} ms", f"{rps:,.0f}", f"{cpu_us:.0f} µs"])
    yield Section(
        "Fake SES capacity (aiohttp client, 64 connections, 12 KB messages, same 2 CPUs)",
        md(["SES latency", "requests/s accepted", "fake SES CPU per request"], rows),
    )
