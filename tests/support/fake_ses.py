"""A minimal SES v2 endpoint in its own process, for timing what SES would see.

moto parses and stores every message, which in a busy process delays when a request
is noticed; this one only records the arrival time of each SendEmail call and
answers with a message id. Run: ``python -m tests.support.fake_ses PORT LOGFILE``.
"""

import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Small writes on a keep-alive connection otherwise wait for delayed ACKs (40 ms).
    disable_nagle_algorithm = True
    log_file = None

    def do_POST(self):
        arrived = time.time()
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"MessageId": uuid.uuid4().hex}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))  # django-ses records it
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path.endswith("/v2/email/outbound-emails"):
            self.log_file.write(f"{arrived}\n")
            self.log_file.flush()

    def log_message(self, *args):
        pass


def main() -> None:
    port, log_path = int(sys.argv[1]), sys.argv[2]
    Handler.log_file = open(log_path, "a", buffering=1)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
