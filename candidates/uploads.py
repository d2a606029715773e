"""A cap on the size of a request body, applied before anything reads the body.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not count uploaded files, and
FILE_UPLOAD_MAX_MEMORY_SIZE only decides when a file goes to a temporary file: a
multipart body of any size is read and parsed as soon as something touches
``request.POST`` or ``request.FILES``, and CsrfViewMiddleware does (it reads the
token from ``request.POST``) before the view runs. So, as Django's documentation
on upload handlers advises, the decorated view is exempt from the middleware's
check and gets it from ``csrf_protect`` once the size is known to be acceptable.

The size is the request's Content-Length: under WSGI Django never reads past it
(a body without one is read as empty), so it is the most that parsing can read.
"""

from functools import wraps

from django.conf import settings
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.csrf import csrf_exempt, csrf_protect


def content_length(request) -> int:
    """The body size the client announced (0 when absent or not a number)."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def body_size_limited(setting_name: str):
    """Decorate a view: a body over ``settings.<setting_name>`` bytes gets a 413 page, unread.

    The view is CSRF-checked after the size check (``csrf_protect``), exactly as
    the middleware would have checked it.
    """

    def decorate(view):
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            limit = getattr(settings, setting_name)
            if content_length(request) > limit:
                # People know the photo's limit (the form says it), not the body's.
                return render(
                    request,
                    "candidates/upload_too_large.html",
                    {"limit": filesizeformat(settings.CANDIDATES_PHOTO_MAX_BYTES), "back": request.path},
                    status=413,
                )
            return protected(request, *args, **kwargs)

        return wrapper

    return decorate
