"""settings.LOGGING (electnepal/logconfig.py): JSON lines on request, stdout only for containers.

Each case is a fresh process configured from its environment, as web, worker and
beat are: the configuration under test is the one django.setup() builds.
"""

import json
import os
import re
import subprocess
import sys
import uuid

from django.conf import settings

ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")

SCRIPT = """
import logging, django
django.setup()
logging.getLogger("mailer.email").info("email=7 kind=welcome attempt=1 status=sent sent successfully")
logging.getLogger("django.request").warning("Not Found: %s", "/auth/reset-password/{token}/",
                                            extra={{"status_code": 404, "request": object()}})
"""


def run(tmp_path, **env) -> subprocess.CompletedProcess:
    token = uuid.uuid4()
    environ = {**os.environ, "LOG_DIR": str(tmp_path / "logs"), **env}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(token=token)],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert str(token) not in result.stdout + result.stderr
    return result


def test_by_default_plain_lines_and_the_attempt_in_email_log(tmp_path):
    result = run(tmp_path)
    email_log = (tmp_path / "logs" / "email.log").read_text()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO mailer.email email=7 .* sent successfully\n", email_log
    )
    assert "WARNING django.request Not Found: /auth/reset-password/********/" in result.stderr
    assert result.stdout == ""


def test_log_format_json_writes_one_object_per_line_with_iso_times_and_offsets(tmp_path):
    result = run(tmp_path, LOG_FORMAT="json")
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    attempt, not_found = lines
    assert ISO_WITH_OFFSET.fullmatch(attempt["time"]) and attempt["time"].endswith("+05:45")  # Asia/Kathmandu
    assert (attempt["level"], attempt["logger"]) == ("INFO", "mailer.email")
    assert attempt["message"].endswith("sent successfully")
    assert not_found == {
        "time": not_found["time"],
        "level": "WARNING",
        "logger": "django.request",
        "message": "Not Found: /auth/reset-password/********/",
        "status_code": 404,
    }  # the request object left out
    (line,) = (tmp_path / "logs" / "email.log").read_text().splitlines()
    assert json.loads(line)["message"] == attempt["message"]


def test_log_to_stdout_writes_no_file(tmp_path):
    result = run(tmp_path, LOG_FORMAT="json", LOG_TO_STDOUT="true")
    assert result.stderr == ""
    assert [json.loads(line)["logger"] for line in result.stdout.splitlines()] == ["mailer.email", "django.request"]
    assert not (tmp_path / "logs").exists()


def test_an_unknown_log_format_is_a_clear_error(tmp_path):
    environ = {**os.environ, "LOG_FORMAT": "xml"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "ImproperlyConfigured: LOG_FORMAT must be one of plain, json, not 'xml'" in result.stderr
