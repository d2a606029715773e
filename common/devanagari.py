"""Numbers and dates as a reader of the active language writes them.

English keeps Western digits and ISO-like dates. Nepali writes numbers in
Devanagari digits (``७२``) and dates in Bikram Sambat, the calendar Nepal uses day
to day (``२०८३ मंसिर १० गते``), converted with nepali-datetime, whose tables cover
1975-2100 BS; a date outside them keeps the Gregorian form, in Devanagari digits.
Each function takes the language explicitly or uses the active one (LocaleMiddleware,
``translation.override``).
"""

from datetime import date, datetime

import nepali_datetime
from django.utils import timezone, translation

_DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")


def is_nepali(language: str | None = None) -> bool:
    """True when ``language`` (default: the active language) is Nepali."""
    return (language or translation.get_language() or "").split("-")[0] == "ne"


def digits(value, language: str | None = None) -> str:
    """``value`` as text, its digits in Devanagari when the language is Nepali: ``72`` / ``७२``."""
    text = str(value)
    return text.translate(_DEVANAGARI_DIGITS) if is_nepali(language) else text


def as_date(value) -> date | None:
    """``value`` (a date, an aware or naive datetime, an ISO string) as a local date; None if it is none."""
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def bikram_sambat(day: date) -> str | None:
    """``day`` in Bikram Sambat, in Nepali: ``२०८३ मंसिर १० गते``; None outside nepali-datetime's tables."""
    try:
        return nepali_datetime.date.from_datetime_date(day).strftime("%K %N %D गते")
    except (ValueError, OverflowError):
        return None


def day_text(value, language: str | None = None) -> str:
    """A date for a page: ``1985-07-31`` in English; in Nepali the BS date and the AD one in parentheses."""
    day = as_date(value)
    if day is None:
        return ""
    iso = day.isoformat()
    if not is_nepali(language):
        return iso
    bs = bikram_sambat(day)
    return f"{bs} ({digits(iso, 'ne')})" if bs else digits(iso, "ne")


def moment_text(value, language: str | None = None) -> str:
    """A date and local time: ``2026-11-26 14:30`` in English, ``२०८३ मंसिर १० गते १४:३०`` in Nepali."""
    if not isinstance(value, datetime):
        return day_text(value, language)
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    clock = f"{local:%H:%M}"
    if not is_nepali(language):
        return f"{local.date().isoformat()} {clock}"
    bs = bikram_sambat(local.date())
    return digits(f"{bs or local.date().isoformat()} {clock}", "ne")
