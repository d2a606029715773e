"""``{{ value|email_date:language }}``: a date as the email's reader expects it.

English: ``26 November 2026``. Nepali: the Bikram Sambat date in Devanagari
digits, ``२०८३ मंसिर १० गते``, the calendar Nepal uses day to day and in official
business (converted with nepali-datetime, whose tables cover 1975-2100 BS).
Values come from JSON contexts, so an ISO string is accepted as well as a date.
"""

from django import template

from common.devanagari import as_date, bikram_sambat, digits

register = template.Library()


@register.filter
def email_date(value, language: str = "en") -> str:
    """``value`` (a date, datetime or ISO string) as the reader of ``language`` writes a date; "" if not a date."""
    day = as_date(value)
    if day is None:
        return ""
    if language == "ne":
        nepali = bikram_sambat(day)  # None outside the conversion tables: the English form then
        if nepali:
            return nepali
    return f"{day.day} {day:%B %Y}"


@register.filter
def numerals(value, language: str = "en") -> str:
    """``72`` in English, ``७२`` in Nepali: Nepali text writes its numbers in Devanagari digits."""
    return digits(value, language)
