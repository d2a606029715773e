"""Steps the browser tests share."""

from tests.support.candidates import PASSWORD


def log_in(page, user, *, start: str = "/auth/login/") -> None:
    """Log ``user`` in through the login form that ``start`` leads to (following its redirect)."""
    page.goto(start)
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert "/login/" not in page.url, f"still on the login page: {page.url}"
