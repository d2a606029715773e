"""deploy/systemd: the units of the non-container deployment, checked by systemd's own tool.

``systemd-analyze verify`` reads each unit as systemd would (unknown keys, bad
values, an ExecStart that is not executable); the units' /srv/electnepal paths are
pointed at this checkout for it. The stop timeouts are checked against the
worker's documented grace, computed from the settings it depends on.
"""

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
UNITS = ROOT / "deploy" / "systemd"
NAMES = ("web", "worker", "beat", "flower", "migrate")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(UNITS / f"electnepal-{name}.service")
    return parser


def seconds(value: str) -> float:
    value = value.strip()
    for suffix, factor in (("min", 60), ("ms", 0.001), ("s", 1)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def test_a_unit_per_process():
    assert sorted(p.name for p in UNITS.glob("*.service")) == sorted(f"electnepal-{n}.service" for n in NAMES)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_every_unit(tmp_path):
    for path in UNITS.glob("*.service"):
        text = path.read_text().replace("/srv/electnepal", str(ROOT))
        text = text.replace("EnvironmentFile=/etc/electnepal/env", "EnvironmentFile=-/etc/electnepal/env")
        (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SYSTEMD_LOG_LEVEL": "notice", "PATH": "/usr/bin:/bin"},
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_worker_gets_its_documented_grace_before_sigkill():
    service = unit("worker")["Service"]
    grace = (
        settings.MAILER_DRAIN_SECONDS
        + settings.MAILER_CLAIM_HORIZON_SECONDS
        + settings.AWS_SES_CONFIG.connect_timeout
        + settings.AWS_SES_CONFIG.read_timeout
    )
    assert grace == pytest.approx(25.1)  # the shipped defaults: docs/deploy.md's "about 25 s"
    assert seconds(service["TimeoutStopSec"]) >= grace + 10
    assert "systemd's `TimeoutStopSec=" + service["TimeoutStopSec"] + "`" in (ROOT / "docs" / "deploy.md").read_text()
    # SIGTERM to the main process only (Celery's warm shutdown), SIGKILL to all after the timeout.
    assert (service["KillMode"], service["KillSignal"]) == ("mixed", "SIGTERM")


def test_every_long_running_unit_stops_gracefully_and_restarts():
    for name in ("web", "worker", "beat", "flower"):
        service = unit(name)["Service"]
        assert service["KillMode"] == "mixed" and service["Restart"] == "always", name
        assert seconds(service["TimeoutStopSec"]) >= 10, name
    web = unit("web")["Service"]
    graceful = shlex.split(web["ExecStart"])
    assert seconds(web["TimeoutStopSec"]) > float(graceful[graceful.index("--graceful-timeout") + 1])


def test_the_units_run_the_documented_commands():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    for name in ("worker", "beat"):
        argv = shlex.split(unit(name)["Service"]["ExecStart"])
        assert Path(argv[0]).name == "celery" and argv[1:] == shlex.split(procfile[name])[1:], name
    flower = shlex.split(unit("flower")["Service"]["ExecStart"])
    assert flower[1:4] == ["-A", "worker", "flower"] and "--address=127.0.0.1" in flower  # never public
    web = shlex.split(unit("web")["Service"]["ExecStart"])
    assert Path(web[0]).name == "gunicorn" and web[1:3] == ["electnepal.wsgi:application", "--bind"]
    assert web[3].startswith("127.0.0.1:")  # behind the proxy
    migrate = unit("migrate")["Service"]
    assert migrate["Type"] == "oneshot" and shlex.split(migrate["ExecStart"])[1:] == [
        "manage.py",
        "migrate",
        "--noinput",
    ]
    assert "Install" not in unit("migrate")  # run per release, never at boot


def test_units_take_secrets_from_the_environment_file_only():
    for name in NAMES:
        service = unit(name)["Service"]
        assert service["EnvironmentFile"] == "/etc/electnepal/env", name
        assert service["User"] == "electnepal" and service["NoNewPrivileges"] == "yes", name
        for assignment in shlex.split(service.get("Environment", "")):
            assert assignment.split("=")[0] in {"LOG_DIR", "MEDIA_ROOT"}, (name, assignment)
