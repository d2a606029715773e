"""Candidate profiles: what a candidate registers, and what the admins decide.

A profile is filled in a four-step wizard and saved at every step, so every field
past the first step may still be empty while the profile is a ``draft``; the
forms (candidates.forms) say what each step requires, and ``candidate_submit``
checks every step again before the profile goes to review.

Status: draft → pending (submitted) → approved | rejected. Editing a submitted
profile puts it back to draft until it is submitted again, so that what the
public sees has always been reviewed.
"""

from datetime import date

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from . import geography


class Candidate(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class Level(models.TextChoices):
        FEDERAL = "federal", _("House of Representatives (federal)")
        PROVINCIAL = "provincial", _("Provincial Assembly")
        MAYOR = "mayor", _("Mayor / Chairperson (local)")
        DEPUTY = "deputy", _("Deputy Mayor / Vice-chairperson (local)")
        WARD_CHAIR = "ward_chair", _("Ward Chairperson (local)")
        WARD_MEMBER = "ward_member", _("Ward Member (local)")

    # The levels' names in Nepali, for pages and emails in Nepali.
    LEVEL_NAMES_NE = {
        Level.FEDERAL: "प्रतिनिधि सभा सदस्य",
        Level.PROVINCIAL: "प्रदेश सभा सदस्य",
        Level.MAYOR: "प्रमुख / अध्यक्ष",
        Level.DEPUTY: "उपप्रमुख / उपाध्यक्ष",
        Level.WARD_CHAIR: "वडा अध्यक्ष",
        Level.WARD_MEMBER: "वडा सदस्य",
    }
    # Levels elected in a constituency, in a municipality, and in one of its wards.
    CONSTITUENCY_LEVELS = (Level.FEDERAL, Level.PROVINCIAL)
    LOCAL_LEVELS = (Level.MAYOR, Level.DEPUTY, Level.WARD_CHAIR, Level.WARD_MEMBER)
    WARD_LEVELS = (Level.WARD_CHAIR, Level.WARD_MEMBER)

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="candidate")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    # The last wizard step saved (0 to 4): where a returning candidate resumes.
    step = models.PositiveSmallIntegerField(default=0)

    # 1. Personal details
    full_name_en = models.CharField(_("full name (English)"), max_length=120)
    full_name_ne = models.CharField(_("full name (Nepali)"), max_length=120)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    photo = models.ImageField(upload_to="candidates/photos/%Y/%m/", blank=True)

    # 2. Position and constituency
    level = models.CharField(max_length=12, choices=Level.choices, blank=True)
    province = models.PositiveSmallIntegerField(choices=geography.province_choices(), null=True, blank=True)
    district = models.CharField(max_length=40, blank=True)
    constituency = models.PositiveSmallIntegerField(null=True, blank=True)
    municipality = models.CharField(max_length=120, blank=True)
    ward = models.PositiveSmallIntegerField(null=True, blank=True)

    # 3. Party and biography
    party = models.CharField(max_length=40, blank=True, help_text="A party code, or 'independent'.")
    biography_en = models.TextField(_("biography (English)"), blank=True)
    biography_ne = models.TextField(_("biography (Nepali)"), blank=True)
    manifesto_en = models.TextField(_("manifesto (English)"), blank=True)
    manifesto_ne = models.TextField(_("manifesto (Nepali)"), blank=True)
    education = models.TextField(blank=True)
    experience = models.TextField(blank=True)

    # 4. Declaration and review
    declared_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    admin_notes = models.TextField(blank=True, help_text="Shown to the candidate, and sent with a rejection.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-created_at"]
        indexes = [models.Index(fields=["level", "province"])]
        # Deciding which profiles the public sees is its own right: viewing or
        # editing a profile in the admin does not include it.
        permissions = [("review_candidate", "Can approve or reject candidate profiles")]

    def __str__(self) -> str:
        return self.full_name_en or f"candidate #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("candidates:profile", args=[self.pk])

    def names(self, language: str = "en") -> dict[str, str]:
        """The seat's level, province, district and party, named in ``language`` (en or ne)."""
        language = "ne" if language == "ne" else "en"
        province = geography.PROVINCE_BY_NUMBER.get(self.province)
        district = geography.DISTRICT_BY_CODE.get(self.district)
        party = geography.PARTY_BY_CODE.get(self.party)
        if language == "ne":
            level = self.LEVEL_NAMES_NE.get(self.level, "")
        else:
            with translation.override("en"):  # the labels are translatable; "en" means English
                level = self.get_level_display()
        return {
            "level": level,
            "province": province.name(language) if province else "",
            "district": district.name(language) if district else "",
            "party": party.name(language) if party else "",
        }

    # In the active language (a page's, the admin's): Devanagari names on Nepali pages.
    @property
    def province_name(self) -> str:
        return self.names(translation.get_language() or "en")["province"]

    @property
    def district_name(self) -> str:
        return self.names(translation.get_language() or "en")["district"]

    @property
    def party_name(self) -> str:
        return self.names(translation.get_language() or "en")["party"]

    def age_on(self, day: date) -> int | None:
        """Full years of age on ``day`` (None without a birth date)."""
        born = self.date_of_birth
        if born is None:
            return None
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Submission(models.Model):
    """One submission of a profile for review: what the per-day limit counts and the staff digest reads.

    ``staff_notified_at`` is when the reviewers' email about it was dealt with:
    empty while it waits; ``staff_emailed`` says whether that email listed it
    (a profile withdrawn or decided before its turn is dropped, unannounced).
    """

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="submissions")
    submitted_at = models.DateTimeField()
    # Submitted again after a review (the reviewers' emails say so).
    resubmission = models.BooleanField(default=False)
    # Indexed for the digest's two questions: what waits (NULL), and when did reviewers last hear.
    staff_notified_at = models.DateTimeField(null=True, blank=True, db_index=True)
    staff_emailed = models.BooleanField(default=False)

    class Meta:
        ordering = ["submitted_at"]
        indexes = [models.Index(fields=["candidate", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.candidate} submitted {self.submitted_at:%Y-%m-%d %H:%M}"
