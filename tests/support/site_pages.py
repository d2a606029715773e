"""Every page of the site a visitor or a candidate reads, with the rows each needs.

``site_pages()`` builds the rows (users in every candidate state, a live reset
link) and returns ``Page`` entries: a path to GET as ``user`` (None: anonymous), or
a form to post there first (``post``: the page is the answer, redirects followed).
The Nepali-text test (tests/electnepal/test_translations.py) fetches them with
Django's client, the screenshot test (tests/browser/test_site_pages.py) with Chromium.
"""

import uuid
from dataclasses import dataclass, field

from django.urls import include, path

from accounts.models import EmailChange, User
from accounts.tokens import new_token, token_hash
from candidates import services as candidate_services
from candidates.models import Candidate
from tests.support.accounts import reset_token, signup_data
from tests.support.candidates import PASSWORD, complete_wizard, logged_in, make_user


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    user: User | None = None
    #: Fields to post to ``path`` (as a person filling the form would), or None for a GET.
    post: dict | None = None
    status: int = 200
    #: What the browser does instead of filling the form (e.g. drop the CSRF cookie first).
    special: str = ""
    extra: dict = field(default_factory=dict)


def _candidate(username: str, *, state: str) -> User:
    """A verified user whose profile is a draft ready to submit, pending, rejected or approved."""
    user = make_user(username)
    complete_wizard(logged_in(user), submit=state != "draft")
    candidate = Candidate.objects.get(user=user)
    reviewer = User.objects.filter(is_staff=True).first() or make_user("reviewer", staff=True)
    if state == "rejected":
        candidate_services.candidate_reject(
            candidate_ids=[candidate.pk], reviewer=reviewer, notes="Please upload a clearer photo."
        )
    elif state == "approved":
        candidate_services.candidate_approve(candidate_ids=[candidate.pk], reviewer=reviewer)
    return user


def site_pages() -> list[Page]:
    """Create the rows and list every page (needs the database)."""
    visitor = make_user("gita")  # logged in, no candidate profile
    draft = _candidate("hari", state="draft")
    pending = _candidate("ram", state="pending")
    rejected = _candidate("sita", state="rejected")
    approved = _candidate("maya", state="approved")
    unverified = make_user("kiran", verified=False)
    newcomer = make_user("binod")  # a profile at step 0: the first step's errors
    approved_pk = Candidate.objects.get(user=approved).pk
    token = reset_token(make_user("asha"))
    mover = make_user("dipa")  # an address change waiting for its link
    change_token = new_token()
    EmailChange.objects.create(user=mover, new_email="dipa.new@example.com", token_hash=token_hash(change_token))
    new_account = signup_data(username="nabin", email="nabin@example.com", first_name="नवीन", last_name="श्रेष्ठ")
    return [
        Page("home", "/"),
        Page("home-logged-in", "/", user=visitor),
        Page("signup", "/auth/signup/"),
        Page("signup-errors", "/auth/signup/", post={}),
        Page("signup-done", "/auth/signup/", post=new_account),
        Page("login", "/auth/login/"),
        Page("login-errors", "/auth/login/", post={"username": "gita", "password": "not-her-password"}),
        Page("resend-verification", "/auth/resend-verification/"),
        Page("resend-verification-done", "/auth/resend-verification/", post={"email": "someone@example.com"}),
        Page("forgot-password", "/auth/forgot-password/"),
        Page("reset-password", f"/auth/reset-password/{token}/"),
        Page(
            "reset-password-errors", f"/auth/reset-password/{token}/", post={"password": "1", "password_confirm": "2"}
        ),
        Page("reset-password-dead", f"/auth/reset-password/{uuid.uuid4()}/"),
        Page("verify-email", f"/auth/verify-email/{uuid.uuid4()}/"),
        Page("verify-email-unknown", f"/auth/verify-email/{uuid.uuid4()}/", post={}),
        Page("account", "/auth/account/", user=visitor),
        Page(
            "account-errors", "/auth/account/", user=visitor, post={"first_name": "Gita\u0007"}
        ),  # a control character
        Page("password-change", "/auth/password-change/", user=visitor),
        Page(
            "password-change-errors",
            "/auth/password-change/",
            user=visitor,
            post={"old_password": "wrong", "new_password1": "1", "new_password2": "2"},
        ),
        Page("email-change", "/auth/email-change/", user=visitor),
        Page("email-change-errors", "/auth/email-change/", user=visitor, post={"email": "not an address"}),
        Page(
            "email-change-done",
            "/auth/email-change/",
            user=visitor,
            post={"email": "gita.new@example.com", "password": PASSWORD},
        ),
        Page("email-change-confirm", f"/auth/email-change/{change_token}/"),
        Page("email-change-dead", f"/auth/email-change/{uuid.uuid4()}/", user=visitor),
        Page("delete-account", "/auth/delete-account/", user=visitor),
        Page("delete-account-errors", "/auth/delete-account/", user=visitor, post={"password": "wrong"}),
        Page("wizard-1", "/candidates/register/1/", user=draft),
        Page("wizard-1-errors", "/candidates/register/1/", user=newcomer, post={}),
        Page("wizard-2", "/candidates/register/2/", user=draft),
        Page(
            "wizard-2-errors",
            "/candidates/register/2/",
            user=draft,
            post={"level": "federal", "province": "3", "district": "kathmandu", "constituency": "99"},
        ),
        Page("wizard-3", "/candidates/register/3/", user=draft),
        Page("review", "/candidates/register/4/", user=draft),
        Page("review-submitted", "/candidates/register/4/", user=draft, post={"declaration": "on"}),
        Page("wizard-1-pending", "/candidates/register/1/", user=pending),
        Page("dashboard-none", "/candidates/dashboard/", user=visitor),
        Page("dashboard-pending", "/candidates/dashboard/", user=pending),
        Page("dashboard-rejected", "/candidates/dashboard/", user=rejected),
        Page("dashboard-approved", "/candidates/dashboard/", user=approved),
        Page("profile", f"/candidates/{approved_pk}/"),
        Page("verify-first", "/candidates/register/", user=unverified, status=403),
        Page("403", "/admin/login/", user=visitor, status=403),
        Page("403-csrf", "/auth/login/", post={"username": "gita", "password": PASSWORD}, status=403, special="csrf"),
        Page("404", "/no-such-page/", status=404),
        Page("429", "/auth/login/", post={"username": "gita", "password": "wrong"}, status=429, special="ratelimit"),
        Page("500", "/boom/", status=500),
    ]


def _boom(request):
    raise RuntimeError("a page that fails, to show the 500 page")


# A URLconf with one failing page (settings.ROOT_URLCONF = "tests.support.site_pages").
urlpatterns = [path("boom/", _boom), path("", include("electnepal.urls"))]
handler403 = "electnepal.views.permission_denied"
handler404 = "electnepal.views.page_not_found"
handler500 = "electnepal.views.server_error"
