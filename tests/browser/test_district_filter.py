"""The wizard's district list in Chromium: narrowed by district-filter.js, whole without JavaScript.

Progressive enhancement: with JavaScript, choosing a province disables (and hides)
the other provinces' districts and clears a district that no longer fits; without
it, all 77 districts stay selectable and the server refuses a district from another
province with a form error. Either way a valid seat leads to step 3.
"""

from django.urls import reverse
from playwright.sync_api import expect

from candidates import geography
from candidates.models import Candidate
from tests.browser.helpers import log_in
from tests.support.candidates import make_user, step1

DISTRICT = "select[name=district]"
GROUPS = """groups => groups.map(g => ({province: g.dataset.province, disabled: g.disabled, hidden: g.hidden}))"""


def step_url(step: int) -> str:
    return reverse("candidates:register-step", args=[step])


def reach_step_two(page, user) -> None:
    """Log in (the wizard sends an anonymous visitor there) and fill step 1 in the form."""
    log_in(page, user, start=reverse("candidates:register"))
    assert page.url.endswith(step_url(1)), page.url
    for name, value in step1().items():
        page.fill(f"[name={name}]", value)
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    assert page.url.endswith(step_url(2)), page.url


def submit(page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()


def district_codes(province: int) -> list[str]:
    return sorted(district.code for district in geography.districts_in(province))


def test_choosing_a_province_narrows_the_districts_to_it(new_page):
    user = make_user("sita")
    page = new_page()
    reach_step_two(page, user)
    groups = page.locator(f"{DISTRICT} optgroup")
    # No province yet: every group open.
    assert len(groups.evaluate_all(GROUPS)) == 7
    assert not any(g["disabled"] for g in groups.evaluate_all(GROUPS))

    page.select_option("select[name=province]", "1")
    states = {g["province"]: g for g in groups.evaluate_all(GROUPS)}
    assert states["1"]["disabled"] is False and states["1"]["hidden"] is False
    assert all(g["disabled"] and g["hidden"] for number, g in states.items() if number != "1"), states
    enabled = page.locator(f"{DISTRICT} option:enabled:not([value=''])")
    assert sorted(option.get_attribute("value") for option in enabled.all()) == district_codes(1)

    page.select_option(DISTRICT, "jhapa")
    expect(page.locator(DISTRICT)).to_have_value("jhapa")
    # Another province: Jhapa (Koshi) no longer fits and is cleared.
    page.select_option("select[name=province]", "3")
    expect(page.locator(DISTRICT)).to_have_value("")
    assert sorted(option.get_attribute("value") for option in enabled.all()) == district_codes(3)

    page.select_option(DISTRICT, "kathmandu")
    page.select_option("select[name=level]", "federal")
    page.fill("[name=constituency]", "4")
    submit(page)
    assert page.url.endswith(step_url(3)), page.url
    expect(page.locator("h2")).to_contain_text("Step 3 of 4")
    candidate = Candidate.objects.get(user=user)
    assert (candidate.province, candidate.district, candidate.constituency) == (3, "kathmandu", 4)


def test_without_javascript_every_district_is_offered_and_the_server_checks(new_page):
    user = make_user("gita")
    page = new_page(javascript=False)
    reach_step_two(page, user)
    options = page.locator(f"{DISTRICT} optgroup option")
    assert options.count() == len(geography.DISTRICTS) == 77
    page.select_option("select[name=province]", "3")
    # Nothing narrowed the list (the script did not run): Jhapa, in Koshi, can be chosen.
    assert page.locator(f"{DISTRICT} optgroup[disabled], {DISTRICT} optgroup[hidden]").count() == 0
    assert page.locator(f"{DISTRICT} option:disabled").count() == 0
    page.select_option(DISTRICT, "jhapa")
    page.select_option("select[name=level]", "federal")
    page.fill("[name=constituency]", "1")
    submit(page)
    assert page.url.endswith(step_url(2)), page.url
    expect(page.locator(".errorlist")).to_contain_text("Jhapa is not in Bagmati Province")
    assert Candidate.objects.get(user=user).district == ""

    # The same form, corrected, goes through without JavaScript too.
    page.select_option(DISTRICT, "kathmandu")
    page.fill("[name=constituency]", "4")
    submit(page)
    assert page.url.endswith(step_url(3)), page.url
    assert Candidate.objects.get(user=user).district == "kathmandu"
