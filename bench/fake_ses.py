"""A fake Amazon SES for the benchmarks, on asyncio/aiohttp so that it is never the bottleneck.

    python -m bench.fake_ses --port 5799 [--host 127.0.0.1 ...] [--latency-ms 50] [--rate 50] [--fault-rate 0.01]

Speaks what django-ses sends:

- SES v2 SendEmail: ``POST /v2/email/outbound-emails``, JSON with
  ``Content.Raw.Data`` (base64 MIME); answers ``{"MessageId": ...}`` and an
  ``x-amzn-RequestId`` header; throttled calls get 429 TooManyRequestsException.
- SES v1 SendRawEmail: ``POST /`` form ``Action=SendRawEmail`` with
  ``RawMessage.Data``; answers the XML result; throttled calls get 400 Throttling.

Latency is an ``asyncio.sleep`` per request, so concurrent requests overlap as they
would at SES. ``--rate`` makes it enforce a send rate as SES does: a call that would
put more than ``rate`` accepted sends in any sliding one-second window is refused
(throttled). ``--fault-rate`` answers that fraction with a 500 InternalFailure.

Every accepted send is logged in memory as (arrival time, accepted time, To), with
time.time() clocks, for the benchmark to match against commit times.

Control (JSON): ``GET /stats`` counters and this process's CPU seconds; ``GET /log``
the accepted sends; ``POST /config`` {latency_ms, rate, fault_rate} sets the
behaviour and resets counters and log; ``POST /outage`` {"on": true|false} answers
every send with 503 ServiceUnavailable while on, keeping counters and log (an SES
outage in the middle of a run).
"""

import argparse
import asyncio
import base64
import collections
import json
import os
import random
import re
import time
import uuid
from urllib.parse import parse_qs

from aiohttp import web

TO_RE = re.compile(rb"^To:[ \t]*(.*?)\r?$", re.MULTILINE | re.IGNORECASE)


def _recipient(raw: bytes) -> str:
    """The To header of a MIME message (headers only; no full parse)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = TO_RE.search(head)
    return match.group(1).decode(errors="replace").strip() if match else ""


class FakeSES:
    def __init__(self, latency_ms: float, rate: float, fault_rate: float) -> None:
        self.configure(latency_ms=latency_ms, rate=rate, fault_rate=fault_rate)

    def configure(self, *, latency_ms: float = 0.0, rate: float = 0.0, fault_rate: float = 0.0) -> None:
        self.latency = float(latency_ms) / 1000
        self.rate = float(rate)
        self.fault_rate = float(fault_rate)
        self.window: collections.deque[float] = collections.deque()  # accepted arrivals, last second
        self.log: list[tuple[float, float, str]] = []
        self.counts = collections.Counter()
        self.throttled_at: list[float] = []  # time.time() of each throttled call
        self.in_flight = 0
        self.max_in_flight = 0
        self.outage = False

    def admit(self, now: float) -> str:
        """'ok', 'throttled', 'fault' or 'unavailable' for a call arriving at ``now`` (monotonic)."""
        if self.outage:
            return "unavailable"
        if self.fault_rate and random.random() < self.fault_rate:
            return "fault"
        if self.rate > 0:
            window = self.window
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.rate:
                self.throttled_at.append(time.time())
                return "throttled"
            window.append(now)
        return "ok"

    async def handle(self, raw: bytes, version: int) -> web.Response:
        arrived = time.time()
        self.counts["requests"] += 1
        verdict = self.admit(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        self.counts[verdict] += 1
        request_id = str(uuid.uuid4())
        if verdict == "ok":
            self.log.append((arrived, time.time(), _recipient(raw)))
            message_id = f"0100{uuid.uuid4().hex}-000000"
            if version == 2:
                return web.json_response({"MessageId": message_id}, headers={"x-amzn-RequestId": request_id})
            return web.Response(
                text=(
                    '<SendRawEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">'
                    f"<SendRawEmailResult><MessageId>{message_id}</MessageId></SendRawEmailResult>"
                    f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                    "</SendRawEmailResponse>"
                ),
                content_type="text/xml",
                headers={"x-amzn-RequestId": request_id},
            )
        if verdict == "throttled":
            code, status, text = (
                ("TooManyRequestsException", 429, "Too many requests.")
                if version == 2
                else ("Throttling", 400, "Maximum sending rate exceeded.")
            )
        elif verdict == "unavailable":
            code, status, text = "ServiceUnavailable", 503, "Service unavailable (injected outage)."
        else:
            code, status, text = "InternalFailure", 500, "Internal failure (injected)."
        headers = {"x-amzn-RequestId": request_id}
        if version == 2:
            headers["x-amzn-ErrorType"] = code
            return web.json_response({"message": text}, status=status, headers=headers)
        return web.Response(
            status=status,
            content_type="text/xml",
            headers=headers,
            text=(
                '<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>Sender</Type>'
                f"<Code>{code}</Code><Message>{text}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>"
            ),
        )

    async def v2_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        raw = base64.b64decode(body.get("Content", {}).get("Raw", {}).get("Data", ""))
        return await self.handle(raw, 2)

    async def v1(self, request: web.Request) -> web.Response:
        form = parse_qs((await request.read()).decode())
        if form.get("Action", [""])[0] != "SendRawEmail":
            return web.Response(status=400, text="only SendRawEmail")
        raw = base64.b64decode(form.get("RawMessage.Data", [""])[0])
        return await self.handle(raw, 1)

    async def stats(self, request: web.Request) -> web.Response:
        times = os.times()
        return web.json_response(
            {
                **self.counts,
                "accepted": len(self.log),
                "max_in_flight": self.max_in_flight,
                "throttled_at": self.throttled_at[:1000],
                "cpu_seconds": times.user + times.system,
                "config": {
                    "latency_ms": self.latency * 1000,
                    "rate": self.rate,
                    "fault_rate": self.fault_rate,
                    "outage": self.outage,
                },
            }
        )

    async def set_outage(self, request: web.Request) -> web.Response:
        self.outage = bool((await request.json()).get("on"))
        return web.json_response({"ok": True, "outage": self.outage})

    async def get_log(self, request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(self.log), content_type="application/json")

    async def set_config(self, request: web.Request) -> web.Response:
        self.configure(**(await request.json()))
        return web.json_response({"ok": True})

    async def identity(self, request: web.Request) -> web.Response:  # CreateEmailIdentity, for parity with moto
        return web.json_response({"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": True})

    async def account(self, request: web.Request) -> web.Response:  # GetAccount: the workers' warm-up probe
        return web.json_response(
            {
                "SendingEnabled": True,
                "ProductionAccessEnabled": True,
                "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 0.0},
            }
        )


def make_app(ses: FakeSES) -> web.Application:
    app = web.Application(client_max_size=40 * 2**20)
    app.router.add_post("/v2/email/outbound-emails", ses.v2_send)
    app.router.add_post("/v2/email/identities", ses.identity)
    app.router.add_get("/v2/email/account", ses.account)
    app.router.add_post("/", ses.v1)
    app.router.add_get("/stats", ses.stats)
    app.router.add_get("/log", ses.get_log)
    app.router.add_post("/config", ses.set_config)
    app.router.add_post("/outage", ses.set_outage)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host", action="append", help="address to listen on; repeat it for several (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=5799)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate", type=float, default=0.0, help="sends per sliding second; 0 = unlimited")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    ses = FakeSES(args.latency_ms, args.rate, args.fault_rate)
    web.run_app(
        make_app(ses), host=args.host or ["127.0.0.1"], port=args.port, access_log=None, print=None, backlog=1024
    )


if __name__ == "__main__":
    main()
