"""The repository holds no credential: secrets come from the environment only."""

import re
import subprocess

from django.conf import settings

AWS_KEY_ID = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
SECRET_ASSIGNMENT = re.compile(
    r"(SECRET_ACCESS_KEY|HOST_PASSWORD|SECRET_KEY|API_KEY|TOKEN)\s*[:=]\s*[\"']?[A-Za-z0-9/+=_-]{30,}", re.IGNORECASE
)


def tracked_text_files():
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=settings.BASE_DIR, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, names):
        path = settings.BASE_DIR / name.decode()
        try:
            yield path, path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue


def test_no_credentials_in_tracked_files():
    found = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)[:12]}…"
        for path, text in tracked_text_files()
        for pattern in (AWS_KEY_ID, SECRET_ASSIGNMENT)
        for match in pattern.finditer(text)
    ]
    assert found == []


def test_env_example_holds_placeholders_only():
    text = (settings.BASE_DIR / ".env.example").read_text()
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert values["SECRET_KEY"] == "change-me"
    assert values.get("AWS_ACCESS_KEY_ID", "") == "" and values.get("AWS_SECRET_ACCESS_KEY", "") == ""
