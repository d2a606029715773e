"""The site's language for a person: her ``preferred_language`` and the language cookie.

Since Django 4 the chosen language lives in a cookie (LANGUAGE_COOKIE_NAME), which
LocaleMiddleware reads before Accept-Language. Logging in puts the user's
``preferred_language`` there; a logged-in user's switch (/i18n/setlang/) also
becomes her ``preferred_language``, the language of her emails.
"""

from django.conf import settings
from django.http import HttpResponse

from .models import User


def user_language_set(*, user: User, language: str) -> bool:
    """Make ``language`` (``en`` or ``ne``) the user's preferred language; True if it changed.

    Raises ValueError for any other language. Writes only that column, and only
    when it changes, so a switch never overwrites another change made meanwhile.
    """
    if language not in User.Language.values:
        raise ValueError(f"unknown language {language!r}: expected one of {User.Language.values}")
    if user.preferred_language == language:
        return False
    user.preferred_language = language
    user.save(update_fields=["preferred_language"])
    return True


def language_cookie_set(response: HttpResponse, language: str) -> HttpResponse:
    """Set Django's language cookie on ``response``, exactly as ``set_language`` does; returns ``response``."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
