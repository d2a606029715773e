"""proxy/Caddyfile: parsed by Caddy's own tool, then run in front of a stand-in for web.

Caddy comes from bin/ensure-caddy (Debian's package, or CADDY=/path/to/caddy); where
it cannot be installed these tests skip, saying why. The live run is the file as
the proxy container reads it, with only what a test machine needs changed: free
ports for 80, 443 and the health listener, folders of our own for the volumes,
Caddy's internal CA for 127.0.0.1 instead of Let's Encrypt (not installed in the
system's trust store), the admin endpoint off, and the upstream ``web:8000`` → a
local HTTP server that records what it receives.
"""

import http.server
import io
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import RequestFactory, override_settings
from PIL import Image

from electnepal.client_ip import client_ip
from tests.support.compose import SERVICES, argv, running, service_env
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
CADDYFILE = ROOT / "proxy" / "Caddyfile"
PRODUCTION_SITE = {"SITE_URL": "https://electnepal.example.org"}


@pytest.fixture(scope="module")
def caddy() -> str:
    binary = os.environ.get("CADDY", "caddy")
    if not shutil.which(binary):
        result = subprocess.run([ROOT / "bin" / "ensure-caddy"], capture_output=True, text=True, timeout=600)
        if result.returncode != 0 or not shutil.which(binary):
            pytest.skip(f"caddy is not installed and bin/ensure-caddy could not install it: {result.stderr.strip()}")
    return shutil.which(binary)


def _caddy(caddy: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([caddy, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


# --- The file, as Caddy reads it ---------------------------------------------------


def test_caddy_validates_the_caddyfile(caddy):
    result = _caddy(caddy, "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile", env=PRODUCTION_SITE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Valid configuration" in result.stdout + result.stderr
    formatted = _caddy(caddy, "fmt", str(CADDYFILE))
    assert formatted.returncode == 0 and formatted.stdout == CADDYFILE.read_text(), "run `caddy fmt --overwrite`"


def test_the_adapted_config_trusts_no_client_forwarded_header_and_proxies_to_web(caddy):
    result = _caddy(caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile", env=PRODUCTION_SITE)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    text = json.dumps(config)
    # Caddy ignores a client's X-Forwarded-* unless told to trust it: the app's
    # TRUSTED_PROXY_COUNT=1 counts on that.
    assert "trusted_proxies" not in text
    assert '"dial": "web:8000"' in text
    assert "electnepal.example.org" in text  # the site is SITE_URL's host: its certificate


def test_compose_gives_the_proxy_what_the_caddyfile_reads():
    proxy = SERVICES["proxy"]
    image, tag = proxy["image"].split(":")
    assert image == "caddy" and tag[0].isdigit() and tag.count(".") == 2, "the official image, pinned to a release"
    command = argv(proxy["command"])
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in proxy["volumes"]}
    assert mounts[command[command.index("--config") + 1]] == "./proxy/Caddyfile"
    # The folders the Caddyfile serves are the volumes web and collectstatic write.
    text = CADDYFILE.read_text()
    static_mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in SERVICES["collectstatic"]["volumes"]}
    assert "/srv/media" not in mounts and "/srv/media" not in text  # photos only through their view
    assert "root * /srv/static" in text and mounts["/srv/static"] == static_mounts["/app/var/static"]
    assert all(volume.endswith(":ro") for volume in proxy["volumes"] if "/srv/" in volume)
    # It reaches web where gunicorn listens, and knows the site from SITE_URL.
    assert "web:8000" in text and "0.0.0.0:8000" in argv(SERVICES["web"]["command"])
    assert "{$SITE_URL}" in text and set(service_env("proxy", PRODUCTION_SITE)) == {"SITE_URL"}
    assert "http://127.0.0.1:8081/" in " ".join(proxy["healthcheck"]["test"])


# --- The file, run ---------------------------------------------------------------


class Upstream:
    """A stand-in for web: answers 200 and records the headers of every request it gets."""

    def __init__(self):
        self.port = free_port()
        self.seen: list[dict[str, str]] = []
        self._server = None

    def start(self) -> "Upstream":
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                body = b"from web"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                # Reads what arrives of the body, as Django would, and records how much that was.
                received, length = 0, int(self.headers.get("Content-Length") or 0)
                try:
                    while received < length and (chunk := self.rfile.read(min(65536, length - received))):
                        received += len(chunk)
                except OSError:
                    pass
                self.headers["X-Body-Received"] = str(received)
                self.do_GET()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def proxy(caddy, tmp_path_factory):
    folder = tmp_path_factory.mktemp("caddy")
    static, media = folder / "static", folder / "media"
    (static / "admin").mkdir(parents=True)
    (static / "admin" / "base.css").write_text("body { color: red }")
    (media / "candidates").mkdir(parents=True)
    (media / "candidates" / "photo.jpg").write_bytes(_jpeg())
    (media / "candidates" / "UPPER.JPG").write_bytes(_jpeg())
    (media / "candidates" / "Mixed.Jpeg").write_bytes(_jpeg())
    (media / "candidates" / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (media / "candidates" / "photo.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBP")
    (media / "candidates" / "page.html").write_text("<script>alert(1)</script>")
    (media / "candidates" / "drawing.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    )
    (media / "candidates" / "sneaky.jpg").write_text("<html><script>alert(1)</script></html>")
    ports = {"http": free_port(), "https": free_port(), "health": free_port()}
    upstream = Upstream()

    text = CADDYFILE.read_text()
    for old, new in {
        "web:8000": f"127.0.0.1:{upstream.port}",
        "/srv/static": str(static),
        "127.0.0.1:8081": f"127.0.0.1:{ports['health']}",
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    test_options = (
        f"\tskip_install_trust\n\tadmin off\n\thttp_port {ports['http']}\n"
        f"\thttps_port {ports['https']}\n\tstorage file_system {folder / 'data'}\n"
    )
    text = "{\n" + test_options + "}\n\n" + text
    config = folder / "Caddyfile"
    config.write_text(text)

    command = argv(SERVICES["proxy"]["command"])
    command[0] = caddy
    command[command.index("--config") + 1] = str(config)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
        **service_env("proxy", {"SITE_URL": "https://127.0.0.1"}),
    }
    log = folder / "caddy.log"
    with running(command, env, log, cwd=folder) as process:
        root = folder / "data" / "pki" / "authorities" / "local" / "root.crt"
        deadline = time.monotonic() + 30
        while not root.exists() or not _listening(ports["https"]):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        context = ssl.create_default_context(cafile=str(root))
        yield {
            "ports": ports,
            "upstream": upstream,
            "context": context,
            "log": log,
            "url": f"https://127.0.0.1:{ports['https']}",
        }
    upstream.stop()


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(proxy, path: str, *, url: str | None = None, data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of a request through the proxy, redirects not followed."""
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=proxy["context"]), NoRedirect)
    request = urllib.request.Request((url or proxy["url"]) + path, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=40) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_tls_and_the_forwarded_headers_the_app_trusts(proxy):
    upstream = proxy["upstream"].start()
    status, _, body = _get(
        proxy,
        "/auth/login/",
        headers={
            "X-Forwarded-For": "203.0.113.66",
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Host": "evil.example",
        },
    )
    assert (status, body) == (200, b"from web")
    seen = upstream.seen[-1]
    # The client's own claims are replaced, not passed on.
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "https"
    assert seen["host"] == f"127.0.0.1:{proxy['ports']['https']}"
    # What web, configured as docker-compose.yml configures it, makes of that request.
    web = service_env("web", {"SECRET_KEY": "x", "POSTGRES_PASSWORD": "x", "REDIS_PASSWORD": "x"})
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in seen.items() if name != "path"}
    request = RequestFactory().get("/", REMOTE_ADDR="172.18.0.9", **meta)  # the proxy's container
    with override_settings(
        TRUSTED_PROXY_COUNT=int(web["TRUSTED_PROXY_COUNT"]),
        SECURE_PROXY_SSL_HEADER=(web["SECURE_PROXY_SSL_HEADER"], "https"),
    ):
        assert client_ip(request) == "127.0.0.1"  # the real client, never the forged 203.0.113.66
        assert request.is_secure()


def test_plain_http_is_redirected_to_https(proxy):
    status, headers, _ = _get(proxy, "/auth/login/?next=/", url=f"http://127.0.0.1:{proxy['ports']['http']}")
    assert status in (301, 308)
    # (Caddy leaves its test https port out of the Location; in production it is 443 anyway.)
    assert headers["Location"].startswith("https://127.0.0.1") and headers["Location"].endswith("/auth/login/?next=/")


def test_static_files_are_served_from_their_volume_with_safe_headers(proxy):
    status, headers, body = _get(proxy, "/static/admin/base.css")
    assert (status, body) == (200, b"body { color: red }")
    assert headers["Content-Type"].startswith("text/css")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert _get(proxy, "/static/admin/missing.css")[0] == 404


def test_media_is_not_served_by_the_proxy(proxy):
    # Photos go through candidates.views.photo, which decides who may see each one: a file
    # under /media/ (an unapproved profile's photo, say) is never handed out by name.
    for name in ("photo.jpg", "UPPER.JPG", "page.html", "", "../static/admin/base.css"):
        assert _get(proxy, f"/media/candidates/{name}")[0] == 404, name
    assert not any(seen["path"].startswith("/media/") for seen in proxy["upstream"].seen)  # nor through web


def test_a_body_over_the_limit_never_reaches_web_whole(proxy):
    if proxy["upstream"]._server is None:
        proxy["upstream"].start()
    before = len(proxy["upstream"].seen)
    try:
        status = _get(
            proxy,
            "/candidates/register/",
            data=b"x" * (11 * 1000 * 1000),
            headers={"Content-Type": "application/octet-stream"},
        )[0]
    except urllib.error.URLError:
        status = "closed"  # Caddy answers 413 and closes while the client is still sending
    # 413, or 502 when the cut-off upstream connection fails first (a race under load).
    assert status in (413, 502, "closed")
    # Caddy streams bodies: web may see the start of it, never more than the limit.
    received = [int(seen.get("x-body-received", 0)) for seen in proxy["upstream"].seen[before:]]
    assert all(size <= 10 * 1000 * 1000 for size in received), received


def test_requests_wait_for_web_while_it_restarts(proxy):
    upstream = proxy["upstream"]
    upstream.stop()  # a release: web is being replaced
    threading.Timer(2.0, upstream.start).start()
    started = time.monotonic()
    status, _, body = _get(proxy, "/")
    assert (status, body) == (200, b"from web")  # not 502
    assert time.monotonic() - started >= 1.5


def test_the_health_listener_answers_the_containers_check(proxy):
    port = proxy["ports"]["health"]
    check = [part.replace("127.0.0.1:8081", f"127.0.0.1:{port}") for part in SERVICES["proxy"]["healthcheck"]["test"]]
    assert check[0] == "CMD"
    if shutil.which(check[1]):
        assert subprocess.run(check[1:], capture_output=True, timeout=10).returncode == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert response.read() == b"ok"
