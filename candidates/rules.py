"""Who may stand where: the eligibility rules the forms and the submission check.

Each function returns a list of (field, message) problems, empty when all is well,
so that a form can attach them to its fields and ``candidate_submit`` can refuse a
profile that a later edit made inconsistent. Messages are in the active language,
numbers and place names included.
"""

from datetime import date

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from common.devanagari import digits

from . import geography
from .models import Candidate

Level = Candidate.Level

# Minimum age on the day of registration: the Constitution of Nepal (Art. 87 and
# 178) asks 25 for the House of Representatives and the Provincial Assemblies; the
# Local Level Election Act asks 21 for local posts.
MINIMUM_AGE = {
    Level.FEDERAL: 25,
    Level.PROVINCIAL: 25,
    Level.MAYOR: 21,
    Level.DEPUTY: 21,
    Level.WARD_CHAIR: 21,
    Level.WARD_MEMBER: 21,
}
# Nobody registering is older than this: a birth date before it is a typing error.
MAXIMUM_AGE = 110


def today() -> date:
    """Today in Nepal (TIME_ZONE), the day ages are counted on."""
    return timezone.localdate()


def age_problems(*, date_of_birth: date | None, level: str) -> list[tuple[str, str]]:
    """What is wrong with standing at ``level`` with this birth date, counted today in Nepal.

    A future date or an age over MAXIMUM_AGE is a typing error (on ``date_of_birth``);
    under the level's MINIMUM_AGE, a problem of the ``level``. No date: nothing to check yet.
    """
    if date_of_birth is None:
        return []
    day = today()
    if date_of_birth > day:
        return [("date_of_birth", _("The date of birth is in the future."))]
    age = day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))
    if age > MAXIMUM_AGE:
        return [("date_of_birth", _("Please check the year: that makes you %(age)s years old.") % {"age": digits(age)})]
    minimum = MINIMUM_AGE.get(level)
    if minimum and age < minimum:
        message = _("A candidate for %(level)s must be at least %(minimum)s years old (you are %(age)s).")
        return [("level", message % {"level": Level(level).label, "minimum": digits(minimum), "age": digits(age)})]
    return []


def position_problems(
    *, level: str, province: int | None, district: str, constituency: int | None, municipality: str, ward: int | None
) -> list[tuple[str, str]]:
    """Where the candidate stands must exist and fit the level."""
    problems = []
    language = "ne" if (get_language() or "").startswith("ne") else "en"
    found = geography.DISTRICT_BY_CODE.get(district)
    if province and found and found.province != province:
        names = {"district": found.name(language), "province": geography.PROVINCE_BY_NUMBER[province].name(language)}
        problems.append(("district", _("%(district)s is not in %(province)s.") % names))
    if level in Candidate.CONSTITUENCY_LEVELS and found:
        if level == Level.FEDERAL:
            count = geography.hor_constituency_count(district)
        else:
            count = geography.provincial_constituency_count(district)
        if constituency is None:
            problems.append(("constituency", _("Enter the constituency number.")))
        elif not 1 <= constituency <= count:
            message = _("%(district)s has constituencies 1 to %(count)s at this level.")
            problems.append(("constituency", message % {"district": found.name(language), "count": digits(count)}))
    if level in Candidate.LOCAL_LEVELS and not municipality.strip():
        problems.append(("municipality", _("Enter the municipality or rural municipality.")))
    if level in Candidate.WARD_LEVELS:
        if ward is None:
            problems.append(("ward", _("Enter the ward number.")))
        elif not geography.WARD_MIN <= ward <= geography.WARD_MAX:
            message = _("Ward numbers run from %(min)s to %(max)s.")
            problems.append(("ward", message % {"min": digits(geography.WARD_MIN), "max": digits(geography.WARD_MAX)}))
    return problems
