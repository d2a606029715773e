"""``email_date`` and ``numerals`` (mailer.templatetags.email_dates): dates and numbers as readers expect."""

from mailer.rendering import samples
from mailer.templatetags.email_dates import email_date, numerals


def test_dates_and_numbers_as_readers_expect():
    assert email_date("2026-11-26", "en") == "26 November 2026"
    assert email_date("2026-11-26", "ne") == "२०८३ मंसिर १० गते"  # Bikram Sambat
    assert email_date("not a date", "ne") == ""
    assert numerals(72, "ne") == "७२" and numerals(72, "en") == "72"
    text = samples.render_sample("candidates/email/registration_confirmation", "ne").text
    assert "२०८३ मंसिर १० गते" in text
