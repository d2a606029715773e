"""A local HTTP endpoint standing in for Sentry: it keeps the envelopes sentry-sdk posts.

A DSN may point anywhere: ``http://key@127.0.0.1:<port>/1`` makes the SDK post to
``/api/1/envelope/`` here. ``events()`` decodes what came (gzip or plain), so a test
reads the events exactly as Sentry would receive them.
"""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeSentry:
    def __init__(self):
        self.bodies: list[bytes] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self):
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                bodies.append(data)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        return Handler

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self._server.server_address[1]}/1"

    def start(self) -> "FakeSentry":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def raw(self) -> str:
        """Everything received, decoded: what a leak would be found in."""
        return b"\n".join(self.bodies).decode("utf-8", "replace")

    def events(self) -> list[dict]:
        """The event items of every envelope (errors; transactions have their own type)."""
        found = []
        for body in self.bodies:
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found
