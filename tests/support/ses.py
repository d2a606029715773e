"""A local SES endpoint for django-ses: moto in server mode, over real HTTP.

moto cannot inject faults, so its WSGI app is wrapped in FaultInjector, which
answers the next send requests with a chosen SES error before moto sees them.
"""

import base64
import collections
import io
import json
import random
import re
import threading
import time
import urllib.parse
import urllib.request
from email import message_from_bytes, policy
from email.message import EmailMessage

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

# What SES answers for each fault: (HTTP status, headers, body).
FAULTS = {
    # SES v1 (Query API) throttling.
    "throttling-v1": (
        400,
        [("Content-Type", "text/xml")],
        (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Maximum sending rate exceeded.</Message></Error><RequestId>fault</RequestId></ErrorResponse>"
        ),
    ),
    # SES v2 (REST API) throttling.
    "throttling-v2": (
        429,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")],
        json.dumps({"message": "Maximum sending rate exceeded."}).encode(),
    ),
    "daily-quota-v2": (
        429,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")],
        json.dumps({"message": "Daily message quota exceeded."}).encode(),
    ),
    "unavailable": (503, [("Content-Type", "text/plain")], b"Service Unavailable"),
    # SES stopped the account's sending (a review after complaints).
    "paused-v2": (
        400,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "SendingPausedException")],
        json.dumps({"message": "Sending is paused for this account."}).encode(),
    ),
    "rejected-v2": (
        400,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", "MessageRejected")],
        json.dumps({"message": "Email address is not verified."}).encode(),
    ),
}


def _is_send(environ) -> bool:
    if environ["REQUEST_METHOD"] != "POST":
        return False
    if environ.get("PATH_INFO", "").endswith("/v2/email/outbound-emails"):
        return True
    # v1: the action is in the form body; read it and put it back for moto.
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return b"Action=SendRawEmail" in body or b"Action=SendEmail" in body


_TO = re.compile(rb"^To:[ \t]*(.*?)\r?$", re.MULTILINE | re.IGNORECASE)


def _recipient(environ) -> str:
    """The To header of the message a send request carries (v2 JSON or v1 form), "" if none."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        if environ.get("PATH_INFO", "").endswith("/v2/email/outbound-emails"):
            raw = json.loads(body)["Content"]["Raw"]["Data"]
        else:
            raw = urllib.parse.parse_qs(body.decode())["RawMessage.Data"][0]
        match = _TO.search(base64.b64decode(raw).split(b"\r\n\r\n", 1)[0])
    except (KeyError, ValueError, IndexError):
        return ""
    return match.group(1).decode().strip() if match else ""


class FaultInjector:
    """Answers send requests with queued faults, random faults at set rates, or a delay.

    ``accepted_at`` holds the wall-clock time of every send handed to moto, and
    ``accepted`` (time, recipient) for each.
    """

    def __init__(self, app):
        self.app = app
        self._lock = threading.Lock()
        self.clear()

    def inject(self, fault: str, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def set_rates(self, *, seed: int = 0, **rates: float) -> None:
        """Answer each send with fault F with probability rates[F] (e.g. throttling_v2=0.3)."""
        with self._lock:
            self._rates = {name.replace("_", "-"): p for name, p in rates.items()}
            self._random = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._faults = collections.deque()
            self._rates = {}
            self._random = random.Random(0)
            self.delay = 0.0
            self.send_requests = 0
            self.faults_answered = collections.Counter()
            self.accepted_at: list[float] = []
            self.accepted: list[tuple[float, str]] = []
            self._answers: dict[tuple[str, str], tuple[int, list, bytes]] = {}

    def answer(self, method: str, path: str, status: int, body: dict, error_type: str = "") -> None:
        """Answer every ``method path`` request with this JSON, before moto sees it.

        For the SES v2 calls moto does not implement (GetAccount) and for errors of
        calls other than sends (refused credentials).
        """
        headers = [("Content-Type", "application/json")]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        with self._lock:
            self._answers[(method, path)] = (status, headers, json.dumps(body).encode())

    def _pick(self) -> str | None:
        if self._faults:
            return self._faults.popleft()
        draw = self._random.random()
        for fault, probability in self._rates.items():
            if draw < probability:
                return fault
            draw -= probability
        return None

    def __call__(self, environ, start_response):
        answer = self._answers.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        if answer:
            status, headers, body = answer
            start_response(f"{status} Answer", [*headers, ("Content-Length", str(len(body)))])
            return [body]
        if _is_send(environ):
            arrived = time.time()
            to = _recipient(environ)
            with self._lock:
                self.send_requests += 1
                fault = self._pick()
                if fault:
                    self.faults_answered[fault] += 1
            if self.delay:
                time.sleep(self.delay)  # SES taking its time
            if fault:
                status, headers, body = FAULTS[fault]
                start_response(f"{status} Fault", [*headers, ("Content-Length", str(len(body)))])
                return [body]
            with self._lock:
                self.accepted_at.append(arrived)
                self.accepted.append((arrived, to))
        return self.app(environ, start_response)


class LocalSES:
    """moto's SES behind a FaultInjector, served on 127.0.0.1 in a thread."""

    def __init__(self):
        self.faults = FaultInjector(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, self.faults, threaded=True, request_handler=MotoRequestHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "LocalSES":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def _call(self, path: str, data: bytes | None = None) -> bytes:
        with urllib.request.urlopen(urllib.request.Request(self.url + path, data=data), timeout=10) as response:
            return response.read()

    def reset(self) -> None:
        self._call("/moto-api/reset", data=b"")
        self.faults.clear()

    def sent(self) -> list[EmailMessage]:
        """Every message SES accepted, parsed."""
        data = json.loads(self._call("/moto-api/data.json"))
        # moto keeps the MIME as text; parse the bytes so 8-bit UTF-8 bodies decode right.
        return [message_from_bytes(m["raw_data"].encode(), policy=policy.default) for m in data["ses"]["RawMessage"]]
