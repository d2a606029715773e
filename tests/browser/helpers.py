"""Steps the browser tests share."""

from tests.support.candidates import PASSWORD
from tests.support.mfa import code_now


def log_in(page, user, *, start: str = "/auth/login/") -> None:
    """Log ``user`` in through the login form that ``start`` leads to (following its redirect)."""
    page.goto(start)
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    assert "/login/" not in page.url, f"still on the login page: {page.url}"


def pass_two_factor(page, device) -> None:
    """On /auth/two-factor/verify/, enter the code ``device``'s app shows now."""
    assert "/auth/two-factor/verify/" in page.url, page.url
    page.fill("input[name=token]", code_now(device))
    with page.expect_navigation():
        page.press("input[name=token]", "Enter")
    assert "/auth/two-factor/" not in page.url, f"still on the two-factor page: {page.url}"


# No overflow: neither the page nor its body is wider than the window.
OVERFLOW = """() => ({
    window: window.innerWidth,
    document: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
})"""


def platform_fonts(page, selector: str) -> list[str]:
    """The fonts Chromium really drew the text directly inside ``selector`` with (DevTools' CSS domain).

    Unlike document.fonts.check(), which answers true for a font that is not
    installed at all, this names the fonts the glyphs came from: without a
    Devanagari font, Nepali text is drawn from the first family's .notdef glyph
    (Liberation Sans here), as empty boxes.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"nothing matches {selector!r}"
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()
    return [f"{font['familyName']} ({font['glyphCount']} glyphs)" for font in fonts if font["glyphCount"]]


def assert_devanagari_drawn(page, selector: str, where: str) -> None:
    fonts = platform_fonts(page, selector)
    assert any("Devanagari" in font for font in fonts), (
        f"{where}: the Nepali text in {selector} is drawn with {fonts} only, so as empty boxes; "
        "install a Devanagari font (Debian: fonts-noto-core, which bin/ensure-browser installs)"
    )
