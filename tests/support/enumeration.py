"""What enumeration tests compare: a response as a client sees it, and the work a request does."""

import re
from contextlib import ExitStack, contextmanager
from unittest import mock

from django.contrib.auth.hashers import get_hasher
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mailer import api as mail_api

CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


class NoEmailInRequests(BaseEmailBackend):
    """settings.EMAIL_BACKEND in these tests: a request that opens any email connection fails."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("a web request opened an email connection")


def snapshot(response, *, mask: str = "") -> dict:
    """Everything a client sees of a response, cookies' values and CSRF tokens aside."""
    body = CSRF.sub(b'name="csrfmiddlewaretoken" value="-"', response.content)
    if mask:
        body = body.replace(mask.encode(), b"<masked>")
    return {
        "status": response.status_code,
        # Expires (never_cache: "now") differs whenever two requests straddle a second.
        "headers": {
            k: v for k, v in response.headers.items() if k.lower() not in {"set-cookie", "content-length", "expires"}
        },
        "length": len(body),
        "cookies": sorted(response.cookies),
        "body": body,
    }


@contextmanager
def counted(**spies: tuple[object, str]):
    """Count a request's work: password hashes, SQL queries, outbox writes, on-commit callbacks (not run).

    ``spies``: more calls to count, ``name=(owner, attribute)``, e.g.
    ``address_requests=(services, "address_request_submit")``; each is wrapped, not replaced.
    """
    hasher = type(get_hasher())
    counts = {}
    with ExitStack() as stack:
        encode = stack.enter_context(mock.patch.object(hasher, "encode", autospec=True, side_effect=hasher.encode))
        enqueue = stack.enter_context(mock.patch.object(mail_api, "enqueue", wraps=mail_api.enqueue))
        watched = {
            name: stack.enter_context(mock.patch.object(owner, attr, wraps=getattr(owner, attr)))
            for name, (owner, attr) in spies.items()
        }
        on_commit = stack.enter_context(
            mock.patch("django.db.transaction.on_commit", side_effect=lambda func, using=None, robust=False: None)
        )
        queries = stack.enter_context(CaptureQueriesContext(connection))
        yield counts
    counts.update(
        hashes=encode.call_count,
        queries=len(queries.captured_queries),
        enqueue=enqueue.call_count,
        on_commit=on_commit.call_count,
        **{name: spy.call_count for name, spy in watched.items()},
    )
