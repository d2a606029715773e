"""Admins decide through the admin's real action POSTs; candidates hear by email; the public sees approved only."""

import pytest
from django.test import Client

from candidates import services
from candidates.models import Candidate
from mailer.models import Email
from tests.support.accounts import wait_all_final
from tests.support.candidates import complete_wizard, logged_in, make_user, step3
from tests.support.mfa import pass_two_factor
from tests.support.waits import wait_for

CHANGELIST = "/admin/candidates/candidate/"
REJECT = CHANGELIST + "reject/"
NOTES = 'Photo unclear. <b>Upload a new one</b> & check the ward <script>alert("x")</script>'


def submitted(username: str, **user) -> Candidate:
    client = logged_in(make_user(username, **user))
    complete_wizard(client)
    return Candidate.objects.get(user__username=username)


@pytest.fixture
def admin_client(db):
    admin = make_user("reviewer", staff=True, is_superuser=True)
    client = logged_in(admin)
    pass_two_factor(client, admin)
    return client, admin


def act(client, action: str, candidates, **extra):
    data = {"action": action, "_selected_action": [c.pk for c in candidates], **extra}
    return client.post(CHANGELIST, data)


def test_changelist_with_filters_and_search(admin_client):
    client, _ = admin_client
    submitted("hari")
    for query in ("", "?status__exact=pending", "?level__exact=federal", "?province__exact=3", "?q=Thapa", "?q=हरि"):
        page = client.get(CHANGELIST + query)
        assert page.status_code == 200 and b"Hari Bahadur Thapa" in page.content, query
    assert b"Hari Bahadur Thapa" not in client.get(CHANGELIST + "?status__exact=approved").content
    candidate = Candidate.objects.get()
    page = client.get(f"{CHANGELIST}{candidate.pk}/change/")
    assert page.status_code == 200 and b"Submissions" in page.content  # each submission, read-only


def test_approve_one_or_many_records_who_and_when_and_emails_once(e2e, ses, admin_client):
    client, admin = admin_client
    first, second = submitted("hari"), submitted("gita", language="ne")
    wait_all_final()
    before, emails_before = len(ses.sent()), Email.objects.count()
    response = act(client, "approve_selected", [first, second])
    assert response.status_code == 302
    for candidate in (first, second):
        candidate.refresh_from_db()
        assert candidate.status == Candidate.Status.APPROVED
        assert candidate.reviewed_by == admin and candidate.reviewed_at is not None
    wait_all_final()
    sent = {m["To"]: m for m in ses.sent()[before:]}
    assert sorted(sent) == ["gita@example.com", "hari@example.com"]
    assert sent["hari@example.com"]["Subject"].strip() == "[ElectNepal] Your candidate profile is approved"
    assert (
        f"https://electnepal.test/candidates/{first.pk}/" in sent["hari@example.com"].get_body(("plain",)).get_content()
    )
    assert "स्वीकृत" in sent["gita@example.com"]["Subject"]

    # Approving again (another admin, a double click) changes nothing and sends nothing.
    reviewed_at = Candidate.objects.get(pk=first.pk).reviewed_at
    act(client, "approve_selected", [first])
    assert Candidate.objects.get(pk=first.pk).reviewed_at == reviewed_at
    assert Email.objects.count() == emails_before + 2


def test_reject_needs_notes_and_sends_them_escaped_in_html(e2e, ses, admin_client, settings):
    client, admin = admin_client
    candidate = submitted("hari")
    wait_all_final()
    before, emails_before = len(ses.sent()), Email.objects.count()

    response = act(client, "reject_selected", [candidate])  # from the changelist: to the notes page
    assert response.status_code == 302 and response["Location"] == f"{REJECT}?ids={candidate.pk}"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b'name="notes"' in page.content and b"Hari Bahadur Thapa" in page.content
    page = client.post(REJECT, {"ids": str(candidate.pk), "notes": "   "})
    assert page.status_code == 200 and b"This field is required" in page.content
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.PENDING and Email.objects.count() == emails_before

    response = client.post(REJECT, {"ids": str(candidate.pk), "notes": NOTES})
    assert response.status_code == 302 and response["Location"] == CHANGELIST
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.REJECTED and candidate.admin_notes == NOTES
    assert candidate.reviewed_by == admin
    wait_all_final()
    (message,) = ses.sent()[before:]
    assert message["Subject"].strip() == "[ElectNepal] Your candidate profile needs changes"
    assert NOTES in message.get_body(("plain",)).get_content()  # text: as written
    html = message.get_body(("html",)).get_content()
    assert "<b>Upload" not in html and "<script>" not in html
    assert "&lt;b&gt;Upload a new one&lt;/b&gt; &amp; check the ward &lt;script&gt;" in html

    # The candidate sees the notes on the dashboard, escaped, and can edit and resubmit.
    owner = logged_in(candidate.user)
    page = owner.get("/candidates/dashboard/").content.decode()
    assert "&lt;b&gt;Upload a new one&lt;/b&gt;" in page and "<script>alert" not in page
    make_user("second_admin", staff=True)
    complete_wizard(owner)
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.PENDING
    # The reviewers heard of the first submission; of the resubmission once their
    # window is over (shortened here to a second), from the digest's beat task.
    assert services.candidate_staff_digest() == 0
    settings.CANDIDATES_STAFF_DIGEST_SECONDS = 1
    wait_for(lambda: services.candidate_staff_digest() == 1, message="the window to end and the digest to go")
    wait_all_final()
    resubmitted = [m for m in ses.sent()[before:] if "resubmitted" in m["Subject"]]  # alone: its own notice
    assert sorted(m["To"] for m in resubmitted) == ["reviewer@example.com", "second_admin@example.com"]


def test_only_pending_profiles_are_decided(admin_client):
    client, _ = admin_client
    draft_owner = make_user("ram")
    complete_wizard(logged_in(draft_owner), submit=False)
    draft = Candidate.objects.get(user=draft_owner)
    response = act(client, "approve_selected", [draft])
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Candidate.Status.DRAFT and not Email.objects.exists()


def test_public_profile_shows_approved_only(admin_client):
    client, _ = admin_client
    candidate = submitted("hari")
    public = Client()
    assert public.get(f"/candidates/{candidate.pk}/").status_code == 404  # pending
    assert public.get("/candidates/999999/").status_code == 404
    act(client, "approve_selected", [candidate])
    page = public.get(f"/candidates/{candidate.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hari Bahadur Thapa" in html and "हरि बहादुर थापा" in html and "Clean water for every ward." in html
    assert "9841234567" not in html  # the phone number is not public
    # Editing withdraws it from the public until it is approved again.
    owner = logged_in(candidate.user)
    owner.post("/candidates/register/3/", step3())
    assert public.get(f"/candidates/{candidate.pk}/").status_code == 404


def test_staff_only_admin(db):
    client = logged_in(make_user("voter"))
    assert client.get(CHANGELIST).status_code == 302


# --- Who may decide: the review_candidate permission ------------------------------------


def staff_client(user):
    """``user`` (staff) signed in, second factor passed: as far as the admin lets anyone in."""
    client = logged_in(user)
    pass_two_factor(client, user)
    return client


def staff_with(username: str, *codenames: str, group: str | None = None):
    """A staff user (not superuser) holding exactly these candidate permissions, or the named group's."""
    from django.contrib.auth.models import Group, Permission

    user = make_user(username, staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="candidates", codename__in=codenames))
    return user


def test_the_reviewers_group_holds_exactly_view_and_review(db):
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="Candidate reviewers")  # made by a migration
    assert sorted(group.permissions.values_list("content_type__app_label", "codename")) == [
        ("candidates", "review_candidate"),
        ("candidates", "view_candidate"),
    ]


def test_staff_who_may_only_view_can_neither_see_nor_run_the_decisions(db):
    candidate = submitted("hari")
    client = staff_client(staff_with("viewer", "view_candidate"))
    page = client.get(CHANGELIST)
    assert page.status_code == 200 and b"Hari Bahadur Thapa" in page.content  # they may look
    assert b"approve_selected" not in page.content and b"reject_selected" not in page.content

    # Posting the actions anyway (a crafted form) decides nothing.
    act(client, "approve_selected", [candidate])
    act(client, "reject_selected", [candidate])
    # Nor does the rejection page, reached straight: 403 on GET and on POST.
    assert client.get(f"{REJECT}?ids={candidate.pk}").status_code == 403
    assert client.post(REJECT, {"ids": str(candidate.pk), "notes": "No."}).status_code == 403
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.PENDING and candidate.reviewed_by is None
    assert not Email.objects.filter(template__in=["candidates/email/approval", "candidates/email/rejection"]).exists()


def test_staff_who_may_edit_but_not_review_cannot_decide_either(db):
    candidate = submitted("hari")
    client = staff_client(staff_with("editor", "view_candidate", "change_candidate"))
    assert b"approve_selected" not in client.get(CHANGELIST).content
    act(client, "approve_selected", [candidate])
    assert client.get(f"{REJECT}?ids={candidate.pk}").status_code == 403
    candidate.refresh_from_db()
    assert candidate.status == Candidate.Status.PENDING


def test_a_member_of_the_reviewers_group_approves_and_rejects(db):
    first, second = submitted("hari"), submitted("gita")
    reviewer = staff_with("asha", group="Candidate reviewers")
    client = staff_client(reviewer)
    page = client.get(CHANGELIST)
    assert b"approve_selected" in page.content and b"reject_selected" in page.content
    assert act(client, "approve_selected", [first]).status_code == 302
    response = act(client, "reject_selected", [second])
    assert client.get(response["Location"]).status_code == 200
    assert client.post(REJECT, {"ids": str(second.pk), "notes": "Add a photo."}).status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.reviewed_by) == (Candidate.Status.APPROVED, reviewer)
    assert (second.status, second.admin_notes) == (Candidate.Status.REJECTED, "Add a photo.")
