"""The Nepali catalogue is complete, compiled, and every page of the site really speaks Nepali.

- no entry of locale/ne/LC_MESSAGES/django.po or of a locale-fragments/*.po is empty or fuzzy;
- the compiled .mo holds exactly what bin/compile-messages makes of them (run `make messages`);
- every page (tests/support/site_pages.py), fetched in Nepali, contains none of the
  project's English strings (the catalogue's msgids), in its text or in the attributes
  a person reads (title, alt, aria-label, placeholder, option and group labels), once
  the users' own data and the parts marked ``lang="en"`` (an English name or biography,
  the switch to English) are set aside.
"""

import html
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.test import Client

from accounts.models import User
from candidates.models import Candidate
from tests.support.candidates import PASSWORD
from tests.support.site_pages import site_pages

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "ne" / "LC_MESSAGES" / "django.po"
FRAGMENTS = sorted((ROOT / "locale-fragments").glob("*.po"))
READ_ATTRIBUTES = {"title", "alt", "aria-label", "placeholder", "label"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def catalogues() -> list[Path]:
    return [CATALOGUE, *FRAGMENTS]


@pytest.mark.parametrize("path", catalogues(), ids=lambda p: p.name)
def test_no_entry_is_empty_or_fuzzy(path):
    catalogue = polib.pofile(str(path))
    assert catalogue.metadata.get("Language", "ne") in ("ne", ""), path
    assert not catalogue.metadata_is_fuzzy, f"{path}: the header is marked fuzzy"
    entries = [entry for entry in catalogue if not entry.obsolete]
    assert entries, f"{path} has no entries"
    empty = [e.msgid for e in entries if not (e.msgstr or any(e.msgstr_plural.values()))]
    partly = [e.msgid for e in entries if e.msgid_plural and not all(e.msgstr_plural.values())]
    fuzzy = [e.msgid for e in entries if e.fuzzy]
    assert not empty, f"{path}: untranslated: {empty}"
    assert not partly, f"{path}: a plural form is missing: {partly}"
    assert not fuzzy, f"{path}: fuzzy: {fuzzy}"
    # A translation keeps every placeholder of its msgid (a lost %(name)s would raise, or vanish).
    for entry in entries:
        for text in (entry.msgstr, *entry.msgstr_plural.values()):
            if text:
                assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(entry.msgid)), entry.msgid


def test_the_compiled_catalogue_is_current(tmp_path):
    mo = CATALOGUE.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `make messages` (bin/compile-messages)"
    compiled = {entry.msgid: entry.msgstr for entry in polib.mofile(str(mo)) if entry.msgid}
    expected = {}
    for path in reversed(catalogues()):  # the catalogue's own translation wins over a fragment's
        expected.update({e.msgid: e.msgstr for e in polib.pofile(str(path)) if not e.obsolete and not e.msgid_plural})
    stale = {msgid for msgid, text in expected.items() if compiled.get(msgid) != text}
    assert not stale, f"{mo} is stale, run `make messages`; out of date: {sorted(stale)[:5]}"


def test_compile_messages_needs_no_gettext_tools():
    """bin/compile-messages runs with polib alone (no msgfmt on PATH) and reports what it merged."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "compile-messages")],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "locale/ne/LC_MESSAGES/django.po: 100%" in result.stdout, result.stdout


class _ReadableText(HTMLParser):
    """The text a person reads on a page: text nodes and readable attributes, minus scripts and lang="en" parts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.parts: list[str] = []

    def _skipping(self) -> bool:
        return any(skipped for _tag, skipped in self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skipped = tag in ("script", "style") or ((attributes.get("lang") or "").startswith("en") and tag != "html")
        if tag not in VOID:
            self.stack.append((tag, skipped))
        if not (skipped or self._skipping()):
            self.parts += [value for name, value in attrs if name in READ_ATTRIBUTES and value]
            if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
                self.parts.append(attributes["value"])

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if not self._skipping() and data.strip():
            self.parts.append(data)


def readable_text(page_html: str) -> str:
    parser = _ReadableText()
    parser.feed(page_html)
    return " ".join(" ".join(parser.parts).split())


def english_phrases() -> dict[str, list[str]]:
    """``{msgid: [its literal English pieces]}``: tags and placeholders cut out, pieces with a letter kept."""
    phrases = {}
    for path in catalogues():
        for entry in polib.pofile(str(path)):
            if entry.obsolete or not entry.msgid:
                continue
            plain = html.unescape(re.sub(r"<[^>]+>", " ", entry.msgid))
            pieces = [" ".join(piece.split()) for piece in PLACEHOLDER.split(plain)]
            phrases[entry.msgid] = [p.strip(" .,:;()") for p in pieces if re.search("[A-Za-z]{2,}", p)]
    return phrases


def users_own_words() -> list[str]:
    """Everything users typed (names, addresses, biographies...): theirs to write in any language."""
    words = []
    for user in User.objects.all():
        words += [user.username, user.email, user.first_name, user.last_name]
    for candidate in Candidate.objects.all():
        words += [
            candidate.education,
            candidate.experience,
            candidate.municipality,
            candidate.admin_notes,
            candidate.full_name_en,
            candidate.biography_en,
            candidate.manifesto_en,
        ]
    return sorted({w for w in words if w}, key=len, reverse=True)


def english_left(text: str, phrases: dict[str, list[str]]) -> list[str]:
    return [
        f"{piece!r} (from {msgid!r})"
        for msgid, pieces in phrases.items()
        for piece in pieces
        if piece and re.search(r"(?<![A-Za-z])" + re.escape(piece) + r"(?![A-Za-z])", text)
    ]


def fetch(page, *, language: str, settings) -> tuple[int, str]:
    """``page`` as a visitor whose language is ``language`` gets it (Django's test client)."""
    client = Client(enforce_csrf_checks=page.special == "csrf", raise_request_exception=False)
    if page.user is not None:
        assert client.login(username=page.user.username, password=PASSWORD)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    if page.special == "ratelimit":
        settings.RATELIMIT_ENABLE = True
        settings.RATELIMIT_LOGIN_FAILURES_IP = "1/h"
        client.post(page.path, page.post)  # the one failure allowed
    # Redirects followed: the page a person ends on (with its flash message) is the one read.
    if page.post is None:
        response = client.get(page.path, follow=True)
    else:
        response = client.post(page.path, page.post, follow=True)
    settings.RATELIMIT_ENABLE = False
    return response.status_code, response.content.decode()


@pytest.fixture
def pages(db, settings):
    settings.ROOT_URLCONF = "tests.support.site_pages"
    return site_pages()


def test_every_page_in_nepali_has_no_english_project_string(pages, settings):
    phrases = english_phrases()
    assert len(phrases) >= 100
    own_words = users_own_words()
    problems = {}
    for page in pages:
        status, body = fetch(page, language="ne", settings=settings)
        assert status == page.status, (page.name, status)
        assert '<html lang="ne">' in body, page.name
        text = readable_text(body)
        for words in own_words:
            text = text.replace(words, " ")
        left = english_left(text, phrases)
        if left:
            problems[page.name] = left
        # Devanagari is on every page; the brand and the switch to English are the only Latin words.
        assert re.search("[\u0900-\u097f]", text), page.name
    assert not problems, "English on Nepali pages:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_same_pages_in_english_speak_english(pages, settings):
    """The control: the check above would see these strings (each page shows some msgid in English)."""
    phrases = english_phrases()
    for page in pages:
        status, body = fetch(page, language="en", settings=settings)
        assert status == page.status, (page.name, status)
        assert '<html lang="en">' in body, page.name
        assert english_left(readable_text(body), phrases), page.name
