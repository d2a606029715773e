"""A local stand-in for Amazon SNS: it signs messages as SNS does and serves, over
real HTTPS, the signing certificate and the SubscribeURL.

- ``LocalSNS.notification(message)`` and ``.subscription_confirmation()`` build
  messages signed with SignatureVersion 1 (SHA1withRSA) or 2 (SHA256withRSA) over
  SNS's canonical string, written here from the AWS documentation rather than
  borrowed from the code under test:
  https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
- The HTTPS server listens on 127.0.0.1 and presents a certificate for SNS's real
  host of the topic's region, ``sns.us-east-1.amazonaws.com``, and for look-alikes
  (``LOOKALIKE_HOSTS``), issued by a throwaway CA (``ca_bundle``, to be trusted through
  REQUESTS_CA_BUNDLE); it records every request it gets (``requests``).
- ``resolve_here(monkeypatch)`` makes those names resolve to it, on any port, in this
  process: the code under test builds and checks the real URLs, and requests connects,
  sends SNI and verifies the certificate for the real name. Only DNS is stood in for,
  so a host rule that let a look-alike through would download a certificate that
  verifies, and the tests would see it.
"""

import base64
import datetime
import ipaddress
import socket
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:electnepal-ses-events"
# SNS's certificate host for TOPIC_ARN, and names the local server also answers to (with
# a valid certificate) although no certificate may be taken from them.
SNS_HOST = "sns.us-east-1.amazonaws.com"
LOOKALIKE_HOSTS = (
    "sns.s3.amazonaws.com",  # not SNS at all: S3 serves anyone's files under *.s3.amazonaws.com
    "sns.eu-west-1.amazonaws.com",  # SNS, another region than the topic's
    "sns.us-east-1.amazonaws.com.cn",  # another partition
    "sns.us-east-1.amazonaws.com.evil.example",
    "evil.example",
)
CERT_PATH = "/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem"
OTHER_CERT_PATH = "/SimpleNotificationService-fedcba9876543210fedcba9876543210.pem"
CONFIRM_PATH = "/confirm"

_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(subject: str, key, *, issuer=None, issuer_key=None, ca=False, hosts=()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if hosts:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def canonical_string(message: dict) -> bytes:
    """What SNS signs: "<Field>\\n<value>\\n" for each signed field present, in order."""
    fields = _SIGNED_FIELDS[message["Type"]]
    return "".join(f"{f}\n{message[f]}\n" for f in fields if f in message).encode()


@dataclass
class Request:
    host: str
    path: str


class LocalSNS:
    """Signing keys, certificates and an HTTPS server on 127.0.0.1 (see module doc)."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="local-sns-")
        # TLS: a CA and the server certificate it issued.
        ca_key, server_key = _key(), _key()
        ca = _certificate("Local SNS test CA", ca_key, ca=True)
        self.names = (SNS_HOST, *LOOKALIKE_HOSTS)
        server = _certificate(SNS_HOST, server_key, issuer=ca, issuer_key=ca_key, hosts=(*self.names, "127.0.0.1"))
        self.ca_bundle = Path(self._dir.name) / "ca.pem"
        self.ca_bundle.write_bytes(_pem(ca))
        tls_pem = Path(self._dir.name) / "server.pem"
        key_pem = server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tls_pem.write_bytes(key_pem + _pem(server))
        # Message signing: SNS's certificate, and a stranger's key and certificate.
        self.signing_key, self.stranger_key = _key(), _key()
        self.signing_cert = _certificate("sns.amazonaws.com", self.signing_key)
        stranger_cert = _certificate("sns.amazonaws.com", self.stranger_key)

        self.files = {CERT_PATH: _pem(self.signing_cert), OTHER_CERT_PATH: _pem(stranger_cert)}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_pem)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_port
        # SNS's host for TOPIC_ARN (resolve_here sends it to this server, whatever the port);
        # 127.0.0.1:<port> and LOOKALIKE_HOSTS are the same server under names not to be trusted.
        self.host = SNS_HOST
        self.cert_url = f"https://{self.host}{CERT_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler(self):
        sns = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with sns._lock:
                    sns.requests.append(Request(host=self.headers.get("Host", ""), path=self.path))
                path = self.path.split("?", 1)[0]
                body = b"<ConfirmSubscriptionResponse/>" if path == CONFIRM_PATH else sns.files.get(path)
                if body is None:
                    self.send_response(404)
                    body = b"not found"
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def resolve_here(self, monkeypatch) -> None:
        """Make ``self.names`` resolve to this server (any port) in this process, for one test."""
        real = socket.getaddrinfo
        names, port = {n.lower() for n in self.names}, self.port

        def getaddrinfo(host, _port, *args, **kwargs):
            if isinstance(host, str) and host.lower() in names:
                return real("127.0.0.1", port, *args, **kwargs)
            return real(host, _port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def start(self) -> "LocalSNS":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._dir.cleanup()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def hits(self, path: str) -> list[Request]:
        """Requests received for ``path`` (without its query string)."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    # --- messages ------------------------------------------------------------

    def sign(self, message: dict, *, version: str = "1", key=None) -> dict:
        """``message`` with SignatureVersion and Signature set (by ``key``, default SNS's)."""
        message = {**message, "SignatureVersion": version}
        signature = (key or self.signing_key).sign(canonical_string(message), padding.PKCS1v15(), _HASHES[version]())
        message["Signature"] = base64.b64encode(signature).decode()
        return message

    def _envelope(self, type_: str, *, topic: str, cert_url: str | None) -> dict:
        return {
            "Type": type_,
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
            "SigningCertURL": cert_url or self.cert_url,
        }

    def notification(self, message: str, *, topic: str = TOPIC_ARN, version: str = "1", cert_url=None, **extra):
        """A signed SNS Notification carrying ``message`` (SES's JSON, as a string)."""
        envelope = {**self._envelope("Notification", topic=topic, cert_url=cert_url), "Message": message, **extra}
        envelope["UnsubscribeURL"] = f"https://{self.host}/?Action=Unsubscribe"
        return self.sign(envelope, version=version)

    def subscription_confirmation(self, *, topic: str = TOPIC_ARN, subscribe_url: str | None = None, version="1"):
        """A signed SubscriptionConfirmation whose SubscribeURL is, by default, this server's."""
        token = uuid.uuid4().hex
        envelope = {
            **self._envelope("SubscriptionConfirmation", topic=topic, cert_url=None),
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "Token": token,
            "SubscribeURL": subscribe_url
            or f"https://{self.host}{CONFIRM_PATH}?Action=ConfirmSubscription&Token={token}",
        }
        return self.sign(envelope, version=version)
