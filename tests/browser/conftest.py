"""A real browser for the pages and the rendered emails: Debian's Chromium driven by Playwright.

- ``browser``: one Chromium for all the tests of this package (launching costs ~0.5 s),
  from ``BROWSER_EXECUTABLE`` (default ``/usr/bin/chromium``, which ``make test``
  installs with apt through bin/ensure-browser). Playwright's own browser downloads
  are never used.
- ``new_page(...)``: a page in a fresh context (own cookies, own viewport, JavaScript
  on or off), closed after the test.

Pages come from pytest-django's ``live_server`` (the project in a thread of this
process, against the test database, with committed transactions).
"""

import os
from pathlib import Path

import pytest

BROWSER_EXECUTABLE = os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    """Every test of this package is a ``browser`` test: ``-m "not browser"`` (make test-fast) leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser():
    """One Chromium for this package, stopped after its last test.

    Playwright's sync API runs an asyncio event loop on this thread (in a greenlet)
    for as long as it is started, so Django's async-safety check would refuse every
    ORM call the tests and pytest-django's fixtures make here
    (SynchronousOnlyOperation). Those calls are plain blocking calls from a test,
    never from a coroutine, so DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser
    lives, and Playwright is stopped with the package (package scope, not session),
    so the rest of the suite runs with neither the loop nor the override.
    """
    if not Path(BROWSER_EXECUTABLE).exists():
        pytest.fail(
            f"no browser at {BROWSER_EXECUTABLE}: run bin/ensure-browser (make test does), "
            "or `apt-get install chromium fonts-noto-core`, or set BROWSER_EXECUTABLE",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        # Chromium refuses to start as root with its sandbox on (containers, CI runners).
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=BROWSER_EXECUTABLE, args=args)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(width=..., javascript=True)``: a page in its own context, on the live server.

    The live server speaks plain HTTP on ``localhost``, which Chromium counts as a
    secure origin: the production settings' Secure session and CSRF cookies work as is.
    """
    contexts, console = [], []

    def make(*, width: int = 1024, height: int = 800, javascript: bool = True):
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            java_script_enabled=javascript,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: console.append(f"{page.url}: {message.type}: {message.text}"))
        return page

    yield make
    for context in contexts:
        context.close()
    # A policy violation is logged to the console, and whatever it blocked (a
    # stylesheet, the district filter) silently does nothing.
    refused = [line for line in console if "Content Security Policy" in line]
    if refused:
        pytest.fail("refused by the Content-Security-Policy:\n" + "\n".join(refused), pytrace=False)
