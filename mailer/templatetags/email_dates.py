"""``{{ value|email_date:language }}``: a date as the email's reader expects it.

English: ``26 November 2026``. Nepali: the Bikram Sambat date in Devanagari
digits, ``२०८३ मंसिर १० गते``, the calendar Nepal uses day to day and in official
business (converted with nepali-datetime, whose tables cover 1975-2100 BS).
Values come from JSON contexts, so an ISO string is accepted as well as a date.
"""

from datetime import date, datetime

import nepali_datetime
from django import template
from django.utils import timezone

register = template.Library()


def _as_date(value) -> date | None:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


@register.filter
def email_date(value, language: str = "en") -> str:
    """``value`` (a date, datetime or ISO string) as the reader of ``language`` writes a date; "" if not a date."""
    day = _as_date(value)
    if day is None:
        return ""
    if language == "ne":
        try:
            return nepali_datetime.date.from_datetime_date(day).strftime("%K %N %D गते")
        except (ValueError, OverflowError):  # outside the conversion tables
            pass
    return f"{day.day} {day:%B %Y}"


_DEVANAGARI_DIGITS = str.maketrans("0123456789", "०१२३४५६७८९")


@register.filter
def numerals(value, language: str = "en") -> str:
    """``72`` in English, ``७२`` in Nepali: Nepali text writes its numbers in Devanagari digits."""
    text = str(value)
    return text.translate(_DEVANAGARI_DIGITS) if language == "ne" else text
