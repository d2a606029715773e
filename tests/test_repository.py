"""The repository holds no credential: secrets come from the environment only.

Scans every file git would commit (tracked, and new files not ignored) for what a
leaked credential looks like: an AWS access key id, an AWS secret access key, a
private key, and a long literal assigned to a secret-sounding name.
"""

import re
import subprocess

import pytest
from django.conf import settings

AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b")
# 40 base-64 characters where an AWS secret goes (quoted or not).
AWS_SECRET = re.compile(r"aws.{0,20}?(secret|key).{0,20}?[\"'=:\s]([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", re.IGNORECASE)
PRIVATE_KEY = re.compile(r"-----BEGIN (RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY( BLOCK)?-----")
SECRET_ASSIGNMENT = re.compile(
    r"(SECRET_ACCESS_KEY|HOST_PASSWORD|PASSWORD|SECRET_KEY|SECRET|API_KEY|TOKEN|BASIC_AUTH)[\"']?\s*[:=]\s*[\"']?"
    r"[A-Za-z0-9/+=_:.-]{24,}",
    re.IGNORECASE,
)
PATTERNS = (AWS_KEY_ID, AWS_SECRET, PRIVATE_KEY, SECRET_ASSIGNMENT)
# No exceptions by what a value contains: a real key with "test" or "change-me" in it is
# still a real key. Placeholders such as ``change-me`` are shorter than anything the
# patterns flag; tests and benchmarks build their throwaway secrets at run time.


def tracked_text_files():
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, names):
        path = settings.BASE_DIR / name.decode()
        try:
            yield path, path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue


def leaks(text: str) -> list[str]:
    return [m.group(0) for pattern in PATTERNS for m in pattern.finditer(text)]


def test_no_credentials_in_tracked_files():
    found = [
        f"{path.relative_to(settings.BASE_DIR)}: {leak[:12]}…"
        for path, text in tracked_text_files()
        for leak in leaks(text)
    ]
    assert found == []


# Built at run time, so this file holds none of them as a literal.
FAKE_KEY_ID = "AKIA" + "Q" * 4 + "2" * 12
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCY" + "Z" * 10


@pytest.mark.parametrize(
    "text",
    [
        f"AWS_ACCESS_KEY_ID={FAKE_KEY_ID}",
        f"aws_secret_access_key = '{FAKE_SECRET}'",
        f"AWS_SECRET_ACCESS_KEY: {FAKE_SECRET}",
        "-----BEGIN " + "RSA PRIVATE KEY-----",
        "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        'SECRET_KEY = "' + "k3" * 20 + '"',
        "EMAIL_HOST_PASSWORD=" + "p4ss" * 8,
        "MAILER_METRICS_TOKEN=" + "t0k" * 10,
        "FLOWER_BASIC_AUTH=ops:" + "s3cr3t" * 5,
        # A word in a value does not make it a placeholder.
        'SECRET_KEY = "test-' + "k3" * 20 + '"',
        "EMAIL_HOST_PASSWORD=change-me-" + "p4ss" * 8,
        "FLOWER_BASIC_AUTH=ops:compose-test-" + "pa55word" * 2,
        f"aws_secret_access_key = 'test{FAKE_SECRET[4:]}'",
        "SECRET_KEY=" + "change-me" * 3,
    ],
)
def test_the_scan_finds_what_a_leak_looks_like(text):
    assert leaks(text), text


@pytest.mark.parametrize(
    "text",
    [
        "SECRET_KEY=change-me",
        'SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS")',
        "#MAILER_METRICS_TOKEN=change-me",
        "token_hash = models.CharField(max_length=64)",
    ],
)
def test_the_scan_lets_placeholders_and_code_be(text):
    assert leaks(text) == []


def test_env_example_holds_placeholders_only():
    text = (settings.BASE_DIR / ".env.example").read_text()
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert values["SECRET_KEY"] == "change-me"
    assert values.get("AWS_ACCESS_KEY_ID", "") == "" and values.get("AWS_SECRET_ACCESS_KEY", "") == ""
    # Every secret-sounding name, set or commented out: empty or the placeholder.
    secretish = re.compile(r"(SECRET|SECRET_KEY|SECRET_ACCESS_KEY|PASSWORD|TOKEN|_AUTH|ACCESS_KEY_ID)$")
    lines = [line.lstrip("#") for line in text.splitlines() if re.fullmatch(r"#?[A-Z][A-Z0-9_]*=.*", line)]
    named = {name: value.strip('"') for name, value in (line.split("=", 1) for line in lines) if secretish.search(name)}
    assert {"SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "EMAIL_HOST_PASSWORD", "FLOWER_BASIC_AUTH"} <= set(named)
    assert {name: value for name, value in named.items() if value not in ("", "change-me")} == {}
