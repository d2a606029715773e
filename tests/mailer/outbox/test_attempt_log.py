"""logs/email.log (mailer.outbox.attempt_log): one line per attempt, masked; rotated, shared, greppable.

Two fresh processes (spawned, as web and worker are separate processes) each set up
Django with LOG_DIR, LOG_MAX_BYTES and LOG_BACKUP_COUNT pointing at a temporary
folder, so the handler under test is the one settings.LOGGING builds, and write
attempt lines through the mailer's own ``log_attempt`` at the same time. The file is
tiny, so it rotates many times while both write.

The spawned processes import this module before they set Django up: nothing here
imports Django or the project at module level.
"""

import multiprocessing
import os
import re
import subprocess
from collections import Counter

import pytest

from tests.support.waits import wait_for

LINES_PER_PROCESS = 300
MAX_BYTES = 8192
BACKUP_COUNT = 60  # room for every line written here: nothing may be dropped by rotation
FAILED_EVERY = 7  # every 7th attempt fails (an ERROR line)
LINE = re.compile(
    r"^(?P<day>\d{4}-\d\d-\d\d) \d\d:\d\d:\d\d,\d{3} (?P<level>INFO|ERROR) mailer\.email "
    r"email=(?P<email>\d+) kind=(?P<kind>\S+) to=(?P<to>\S+) attempt=(?P<attempt>\d+) "
    r"status=(?P<status>\w+) message_id=(?P<message_id>\S+) duration_ms=\d+\.\d "
    r"(?P<outcome>sent successfully|failed)(?: error=.*)?$"
)


def _write_attempts(log_dir: str, writer: int, barrier) -> None:
    """Child process: log LINES_PER_PROCESS attempts through the configured mailer.email logger."""
    import time

    os.environ.update(LOG_DIR=log_dir, LOG_MAX_BYTES=str(MAX_BYTES), LOG_BACKUP_COUNT=str(BACKUP_COUNT))
    import django

    django.setup()  # configures logging from settings.LOGGING, as web, worker and beat do

    from mailer.models import Email
    from mailer.outbox.attempt_log import log_attempt

    barrier.wait()  # both processes write at once
    for i in range(LINES_PER_PROCESS):
        email = Email(
            pk=writer * 100_000 + i, template="accounts/verification", to=f"person{i}@example.com", attempts=1
        )
        if i % FAILED_EVERY == 0:
            log_attempt(email, Email.Status.FAILED, time.monotonic(), error="MessageRejected: address blacklisted")
        else:
            log_attempt(email, Email.Status.SENT, time.monotonic(), message_id=f"w{writer}-{i}")


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory):
    """logs/ as two processes left it, with email.log rotated many times."""
    root = tmp_path_factory.mktemp("site")
    logs = root / "logs"
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter, not a copy of the test process
    barrier = ctx.Barrier(2)
    writers = [ctx.Process(target=_write_attempts, args=(str(logs), n, barrier)) for n in (1, 2)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
        assert process.exitcode == 0
    return logs


def _lines(log_dir):
    return [line for path in sorted(log_dir.glob("email.log*")) for line in path.read_text().splitlines()]


def _sh(command: str, cwd) -> str:
    """Run a README recipe as an operator would, in the folder that holds logs/."""
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_email_log_rotates_by_size(log_dir):
    rotated = sorted(p.name for p in log_dir.glob("email.log.*"))
    assert "email.log.1" in rotated and len(rotated) > 5
    assert len(rotated) < BACKUP_COUNT  # so no file was deleted in this test
    longest = max(len(line) for line in _lines(log_dir)) + 1
    for path in log_dir.glob("email.log*"):
        assert path.stat().st_size < MAX_BYTES + longest  # rotation happens before the write that crosses it


def test_no_line_is_lost_or_garbled_when_two_processes_write_at_once(log_dir):
    lines = _lines(log_dir)
    garbled = [line for line in lines if not LINE.match(line)]
    assert garbled == []
    written = Counter(LINE.match(line)["email"] for line in lines)
    expected = {str(w * 100_000 + i) for w in (1, 2) for i in range(LINES_PER_PROCESS)}
    assert set(written) == expected
    assert set(written.values()) == {1}  # and none written twice


def test_each_line_has_the_fields_of_an_attempt_with_the_recipient_masked(log_dir):
    for line in _lines(log_dir):
        fields = LINE.match(line)
        assert fields["kind"] == "verification" and fields["attempt"] == "1"
        assert re.fullmatch(r"pe\*\*\*@example\.com", fields["to"]), line  # never the whole address
        if fields["status"] == "sent":
            assert fields["level"] == "INFO" and fields["outcome"] == "sent successfully"
            assert re.fullmatch(r"w[12]-\d+", fields["message_id"])
        else:
            assert fields["level"] == "ERROR" and "error=MessageRejected" in line


def test_readme_recipes_count_failures_and_deliveries(log_dir):
    """The commands of README "Logs", run on the real log, give the true counts."""
    site = log_dir.parent
    parsed = [LINE.match(line) for line in _lines(log_dir)]

    current = (log_dir / "email.log").read_text().splitlines()
    errors = _sh("grep ERROR logs/email.log || true", site).splitlines()
    assert errors == [line for line in current if LINE.match(line)["status"] == "failed"]
    all_errors = _sh("grep -h ERROR logs/email.log*", site).splitlines()
    assert len(all_errors) == 2 * len(range(0, LINES_PER_PROCESS, FAILED_EVERY))
    assert _sh("grep -h 'email=200010 ' logs/email.log*", site).splitlines() == [
        m.string for m in parsed if m["email"] == "200010"
    ]

    sent_per_day = Counter(m["day"] for m in parsed if m["status"] == "sent")
    assert sum(sent_per_day.values()) == 2 * (LINES_PER_PROCESS - len(range(0, LINES_PER_PROCESS, FAILED_EVERY)))
    table = _sh("grep -h 'sent successfully' logs/email.log* | cut -c1-10 | sort | uniq -c", site)
    assert {day: int(n) for n, day in (row.split() for row in table.splitlines())} == sent_per_day
    for day, count in sent_per_day.items():
        assert _sh(f"cat logs/email.log* | grep -c '^{day} .*sent successfully'", site).strip() == str(count)


# --- Through the worker ---------------------------------------------------------------


def test_each_attempt_is_logged(e2e, ses, settings):
    from tests.support.outbox import queue, wait_final  # imports the project: not at module level

    email = queue()
    wait_final(email)

    def logged():
        # The row turns final a moment before the worker writes its log line.
        log = (settings.LOG_DIR / "email.log").read_text()
        return [line for line in log.splitlines() if f"email={email.pk} " in line]

    (line,) = wait_for(logged, message=f"email {email.pk} to be logged")
    assert "sent successfully" in line and "kind=welcome" in line
    assert "sita@example.com" not in line  # masked
