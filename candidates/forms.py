"""The wizard's four forms, one per step, each a ModelForm over the fields of its step.

Every form validates on the server whatever the browser did (JavaScript only
narrows the district list). Lengths are capped here, not only in the database, so
an oversize text is a form error and never a 500.
"""

import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, RegexValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from common.devanagari import digits

from . import geography, photos, rules
from .models import Candidate
from .widgets import DistrictSelect, PhotoInput

# A name line is printed in emails and pages: no control characters (CR/LF could
# forge a header if a name ever reached one) and sensible characters only.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z .'\-]*$")
# Nepali mobile numbers (96/97/98 + 8 digits) or landlines (0 + area code + number),
# with an optional +977 prefix.
PHONE = RegexValidator(
    r"^(\+977[ -]?)?(9[678]\d{8}|0\d{1,2}[ -]?\d{6,7})$",
    gettext_lazy("Enter a Nepali phone number, e.g. 9841234567, +977 9841234567 or 01-4123456."),
)
TEXT_LIMITS = {"biography": 3000, "manifesto": 5000, "education": 2000, "experience": 2000}


def single_line(value: str) -> str:
    """A validator: ``value`` unchanged, or ValidationError for a line break or control character."""
    if _CONTROL.search(value):
        raise ValidationError(_("Line breaks and control characters are not allowed here."))
    return value


def _geography_language() -> str:
    """``ne`` on a Nepali page, else ``en``: the language of geography's names."""
    return "ne" if (get_language() or "").startswith("ne") else "en"


class DateInput(forms.DateInput):
    input_type = "date"


class PhotoField(forms.FileField):
    """An uploaded photo, re-encoded (candidates.photos): what is stored is never the file as sent.

    Not Django's ImageField, which opens the upload with Pillow before any of our
    checks (and only warns about a decompression bomb).
    """

    widget = PhotoInput(attrs={"accept": "image/jpeg,image/png,image/webp"})

    def to_python(self, data):
        upload = super().to_python(data)
        if upload is None:
            return None
        return photos.photo_reencode(upload=upload)


class PersonalForm(forms.ModelForm):
    """Step 1: who the candidate is."""

    class Meta:
        model = Candidate
        fields = ["full_name_en", "full_name_ne", "date_of_birth", "phone", "photo"]
        field_classes = {"photo": PhotoField}
        widgets = {"date_of_birth": DateInput(format="%Y-%m-%d")}
        labels = {
            "date_of_birth": gettext_lazy("Date of birth"),
            "phone": gettext_lazy("Phone"),
            "photo": gettext_lazy("Photo"),
        }
        help_texts = {
            "full_name_ne": gettext_lazy("In Devanagari, as on your citizenship certificate."),
            "photo": gettext_lazy("Optional. JPEG, PNG or WebP."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("date_of_birth", "phone"):
            self.fields[name].required = True
        self.fields["phone"].validators.append(PHONE)
        limit = digits(filesizeformat(settings.CANDIDATES_PHOTO_MAX_BYTES))
        self.fields["photo"].help_text = _("Optional. JPEG, PNG or WebP, at most %(limit)s.") % {"limit": limit}

    def clean_full_name_en(self):
        name = " ".join(single_line(self.cleaned_data["full_name_en"]).split())
        if not _LATIN_NAME.match(name):
            raise ValidationError(_("Use Latin letters, spaces, apostrophes, dots and hyphens."))
        return name

    def clean_full_name_ne(self):
        name = " ".join(single_line(self.cleaned_data["full_name_ne"]).split())
        if not _DEVANAGARI.search(name) or re.search(r"[A-Za-z]", name):
            raise ValidationError(_("Write the name in Devanagari (नेपाली)."))
        return name

    def clean_phone(self):
        return re.sub(r"\s+", " ", self.cleaned_data["phone"].strip())

    def clean(self):
        cleaned = super().clean()
        # A plausible birth date, which must still fit the level if one was chosen.
        if cleaned.get("date_of_birth"):
            for _field, message in rules.age_problems(
                date_of_birth=cleaned["date_of_birth"], level=self.instance.level
            ):
                self.add_error("date_of_birth", message)
        return cleaned


class PositionForm(forms.ModelForm):
    """Step 2: the seat: level, province, district, and constituency or municipality and ward."""

    district = forms.ChoiceField(label=gettext_lazy("District"), widget=DistrictSelect)

    class Meta:
        model = Candidate
        fields = ["level", "province", "district", "constituency", "municipality", "ward"]
        labels = {
            "level": gettext_lazy("Level"),
            "province": gettext_lazy("Province"),
            "constituency": gettext_lazy("Constituency"),
            "municipality": gettext_lazy("Municipality"),
            "ward": gettext_lazy("Ward"),
        }
        help_texts = {
            "constituency": gettext_lazy("House of Representatives or Provincial Assembly seats only."),
            "municipality": gettext_lazy("Local seats only: the municipality or rural municipality."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Province and district names in the page's language (Devanagari on Nepali pages).
        language = _geography_language()
        self.fields["province"].choices = [("", "---------"), *geography.province_choices(language)]
        self.fields["district"].choices = [("", "---------"), *geography.district_choices_grouped(language)]
        self.fields["ward"].help_text = _("Ward seats only (%(min)s to %(max)s).") % {
            "min": digits(geography.WARD_MIN),
            "max": digits(geography.WARD_MAX),
        }
        for name in ("level", "province", "district"):
            self.fields[name].required = True
        self.fields["province"].widget.attrs["data-province-select"] = ""
        self.fields["district"].widget.attrs["data-district-select"] = ""
        self.fields["municipality"].validators.append(single_line)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        problems = rules.position_problems(
            level=cleaned["level"],
            province=cleaned["province"],
            district=cleaned["district"],
            constituency=cleaned.get("constituency"),
            municipality=cleaned.get("municipality", ""),
            ward=cleaned.get("ward"),
        )
        problems += rules.age_problems(date_of_birth=self.instance.date_of_birth, level=cleaned["level"])
        for field, message in problems:
            self.add_error(field, message)
        # What the level does not use is cleared, so a changed level leaves no stale seat.
        if cleaned.get("level") not in Candidate.CONSTITUENCY_LEVELS:
            cleaned["constituency"] = None
        if cleaned.get("level") not in Candidate.LOCAL_LEVELS:
            cleaned["municipality"] = ""
        if cleaned.get("level") not in Candidate.WARD_LEVELS:
            cleaned["ward"] = None
        return cleaned


class PartyForm(forms.ModelForm):
    """Step 3: party (or independent) and what the candidate stands for, in both languages."""

    party = forms.ChoiceField(label=gettext_lazy("Party"))

    class Meta:
        model = Candidate
        fields = [
            "party",
            "biography_en",
            "biography_ne",
            "manifesto_en",
            "manifesto_ne",
            "education",
            "experience",
        ]

        labels = {"education": gettext_lazy("Education"), "experience": gettext_lazy("Experience")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["party"].choices = [("", "---------"), *geography.party_choices(_geography_language())]
        for name in ("biography_en", "biography_ne", "manifesto_en", "manifesto_ne"):
            self.fields[name].required = True
        for name, field in self.fields.items():
            limit = TEXT_LIMITS.get(name.removesuffix("_en").removesuffix("_ne"))
            if limit:
                field.validators.append(MaxLengthValidator(limit))
                field.widget.attrs.update(maxlength=str(limit), rows="5")


class ReviewForm(forms.Form):
    """Step 4: the declaration; submitting sends the profile to review."""

    declaration = forms.BooleanField(
        required=True,
        label=gettext_lazy(
            "I declare that the information above is true and that I am eligible to stand for this seat."
        ),
    )


STEPS = {
    1: (gettext_lazy("Personal details"), PersonalForm),
    2: (gettext_lazy("Position and constituency"), PositionForm),
    3: (gettext_lazy("Party and biography"), PartyForm),
    4: (gettext_lazy("Review and declaration"), ReviewForm),
}
