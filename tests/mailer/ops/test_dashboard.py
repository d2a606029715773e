"""The admin's mail dashboard: staff only, the mailstats figures, and the hourly chart drawn from real rows."""

import re

import pytest
from django.utils import timezone

from accounts.models import User
from mailer.ops import aggregates, dashboard
from tests.support.mfa import staff_login

URL = "/admin/mailer/dashboard/"


def test_bars_stack_to_the_peak(rows):
    starts, counts = aggregates.hourly_counts()
    chart = dashboard.chart(starts, counts)
    assert chart["peak"] == 4
    now_bars = [bar for bar in chart["bars"] if bar.x == max(b.x for b in chart["bars"])]
    assert sum(bar.height for bar in now_bars) == pytest.approx(chart["bottom"] - chart["top"], abs=0.2)
    assert len(chart["bars"]) == 3  # sent + failed now, sent 5 h ago


def test_staff_see_the_figures_and_the_chart(rows, client):
    staff_login(client, User.objects.create_superuser("admin", "admin@example.com", "admin-pass-2082"))
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Emails created in the last 24h" in html
    assert re.search(r"by status: queued 0, sending 0, sent 5, failed 1", html)
    hour = timezone.localtime().strftime("%H")
    assert f"<title>{hour}:00 sent: 3</title>" in html and f"<title>{hour}:00 failed: 1</title>" in html
    assert html.count('class="bar"') == 3


@pytest.mark.parametrize("staff", [False, None])
def test_others_are_sent_to_the_admin_login(db, client, staff):
    if staff is False:
        client.force_login(User.objects.create_user("voter", "voter@example.com", "voter-pass-2082"))
    page = client.get(URL)
    assert page.status_code == 302 and page["Location"].startswith("/admin/login/")
