"""The district select: every district, grouped by province, each group marked with its province.

Without JavaScript the page lists all 77 districts under their provinces; with it,
static/candidates/district-filter.js hides the groups of other provinces, reading
``data-province`` on each ``<optgroup>``. Django's Select has no attributes for
groups, hence this widget and its template.
"""

from django import forms
from django.urls import reverse
from django.utils.translation import gettext

from . import geography


class _Group(str):
    """A group label that also knows its province number (for the template)."""

    province: int


class DistrictSelect(forms.Select):
    """The district list grouped by province, each group marked with its number for the script."""

    template_name = "candidates/widgets/district_select.html"

    def optgroups(self, name, value, attrs=None):
        numbers = {province.name_en: province.number for province in geography.PROVINCES}
        numbers.update({province.name_ne: province.number for province in geography.PROVINCES})
        groups = []
        for group_name, options, index in super().optgroups(name, value, attrs):
            if group_name:
                label = _Group(group_name)
                label.province = numbers.get(group_name, "")
                group_name = label
            groups.append((group_name, options, index))
        return groups


class _CurrentPhoto:
    """What ClearableFileInput shows for the saved photo: a link to it as the site serves it."""

    def __init__(self, url: str):
        self.url = url

    def __str__(self) -> str:
        return gettext("your current photo")


class PhotoInput(forms.ClearableFileInput):
    """The photo upload; the saved photo links to candidates:photo (MEDIA_ROOT is not served)."""

    def format_value(self, value):
        if self.is_initial(value) and getattr(value, "instance", None) is not None:
            return _CurrentPhoto(reverse("candidates:photo", args=[value.instance.pk]))
        return super().format_value(value)
