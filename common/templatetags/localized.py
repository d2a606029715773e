"""``{% load localized %}``: numbers and dates in the page's language (common.devanagari).

``{{ n|digits }}`` (७२ on a Nepali page), ``{{ d|day }}`` (a date),
``{{ dt|moment }}`` (a date and its local time).
"""

from django import template

from common import devanagari

register = template.Library()


@register.filter
def digits(value) -> str:
    """``value`` with Devanagari digits on a Nepali page."""
    return "" if value is None else devanagari.digits(value)


@register.filter
def day(value) -> str:
    """A date as the page's reader writes it (Bikram Sambat on a Nepali page)."""
    return devanagari.day_text(value)


@register.filter
def moment(value) -> str:
    """A date and local time as the page's reader writes them."""
    return devanagari.moment_text(value)
