"""The site's own pages: the error pages, in the reader's language, with the site's layout."""

import logging

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

# What a 500 says if even the page could not be drawn (a broken template, a context
# processor that fails): both languages, no template, no database.
PLAIN_SERVER_ERROR = (
    '<!doctype html><html lang="en"><meta charset="utf-8"><title>Server error</title>'
    "<h1>Something went wrong</h1><p>Please try again in a few minutes.</p>"
    '<p lang="ne">केही गडबड भयो। केही मिनेटपछि फेरि प्रयास गर्नुहोस्।</p></html>'
)


def ratelimited(request, exception):
    """django-ratelimit's handler: a readable page with HTTP 429."""
    return render(request, "429.html", status=429)


@requires_csrf_token
def permission_denied(request, exception=None):
    """handler403: the 403 page, with the language switch (hence the CSRF token)."""
    return render(request, "403.html", status=403)


@requires_csrf_token
def page_not_found(request, exception=None):
    """handler404: the 404 page, with the language switch."""
    return render(request, "404.html", status=404)


@requires_csrf_token
def server_error(request):
    """handler500: the 500 page in the reader's language; a plain bilingual page if that fails too.

    Django's default renders 500.html without the request (no language switch, no
    user); the page is tried with it, and whatever broke it is logged, not raised.
    """
    try:
        return render(request, "500.html", status=500)
    except Exception:
        logger.exception("the 500 page could not be rendered")
        return HttpResponseServerError(PLAIN_SERVER_ERROR)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a form posted without a valid token (an old tab, cookies off)."""
    return render(request, "403_csrf.html", status=403)
