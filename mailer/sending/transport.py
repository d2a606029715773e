"""Sending one message through Django's email backend, on a reused connection.

One backend connection per worker thread, opened once and reused: SMTP pays a
handshake and a login per connection. After an error the connection is dropped and
the next send opens a fresh one.

django-ses builds a boto3 session and client per connection, which costs much CPU
and memory (docs/performance.md). boto3 clients are thread-safe (sessions are not),
so the SES backends of all threads of a process share one client, with its pool of
HTTPS connections (AWS_SES_MAX_POOL_CONNECTIONS, 32). A send error does not replace it:
urllib3 drops a broken connection from the pool by itself, and rebuilding the client
on every throttling answer would cost the CPU most needed then. A settings change
(tests, mostly) does.

django-ses also runs ``import dkim`` for every message it sends; without the dkim
package that import fails, and a failed import is not cached: each send searched
sys.path again (a noticeable share of a worker's CPU, docs/performance.md). Its
absence is recorded once, below, which makes the next ``import dkim`` fail at once.
"""

import contextlib
import importlib.util
import os
import sys
import threading

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.signals import setting_changed
from django.dispatch import receiver
from django_ses import SESBackend

from .errors import NothingSent, aws_error

if importlib.util.find_spec("dkim") is None:
    sys.modules.setdefault("dkim", None)  # "not installed", as the import system reads it

_local = threading.local()
# Bumped whenever a setting changes at run time (tests, mostly), so that every
# thread's connection is rebuilt with the new backend, endpoint or credentials.
_settings_generation = 0


@receiver(setting_changed)
def _on_setting_changed(**kwargs) -> None:
    global _settings_generation
    _settings_generation += 1


_ses_clients: dict[tuple, object] = {}
_ses_clients_lock = threading.Lock()


def _open(conn: BaseEmailBackend, generation: int) -> None:
    """Open ``conn``; an SES backend gets the process's boto3 client for this settings generation."""
    if not isinstance(conn, SESBackend):
        conn.open()
        return
    # A forked worker process builds its own: a client's pooled sockets must not be shared.
    key = (type(conn), generation, os.getpid())
    with _ses_clients_lock:
        client = _ses_clients.get(key)
        if client is None:
            conn.open()  # builds the client from settings, as django-ses does
            _ses_clients.clear()  # clients of older settings generations
            _ses_clients[key] = client = conn.connection
    conn.connection = client


def connection() -> BaseEmailBackend:
    """This thread's open connection to settings.EMAIL_BACKEND."""
    conn = getattr(_local, "connection", None)
    if conn is None or _local.generation != _settings_generation:
        reset_connection()
        generation = _settings_generation
        conn = get_connection(settings.EMAIL_BACKEND)
        _open(conn, generation)
        _local.connection, _local.generation = conn, generation
    return conn


def probe() -> str:
    """One read-only call on this process's SES client; what SES answered ("ok" or an error code).

    GetAccount (v2) or GetSendQuota (v1), both in the deployment guide's IAM policy.
    Nothing is sent. Its use is the first request itself: botocore's first call on a
    client is slower than the next ones (a pooled connection, the signer, the
    endpoint rules), and a process's first send, paying for it, reached SES late
    enough to crowd the send slots after it. Other backends: "-" (nothing to probe).
    """
    conn = connection()
    if not isinstance(conn, SESBackend):
        return "-"
    client = conn.connection
    try:
        client.get_account() if client.meta.service_model.service_name == "sesv2" else client.get_send_quota()
    except ClientError as exc:
        return aws_error(exc)[0]
    return "ok"


def reset_connection() -> None:
    """Close and forget this thread's connection (after an error, or a settings change)."""
    conn = getattr(_local, "connection", None)
    _local.connection = None
    if conn is not None:
        # A broken connection may fail to close, with any error; it is dropped anyway.
        with contextlib.suppress(Exception):
            conn.close()


def send(message: EmailMessage) -> str:
    """Send ``message`` on this thread's connection; return the provider's message id.

    Raises whatever the backend raised (see errors.classify), or NothingSent.
    """
    conn = connection()
    try:
        sent = conn.send_messages([message])
    except BaseException:
        reset_connection()
        raise
    if not sent:
        reset_connection()
        raise NothingSent("The email backend reported that it sent nothing.")
    # django-ses records SES's MessageId here; other backends keep our Message-ID.
    return str(message.extra_headers.get("message_id") or message.extra_headers.get("Message-ID", ""))
