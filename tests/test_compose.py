"""docker-compose.yml, the Dockerfile and .env.example, checked without a Docker engine.

The file must parse with its anchors resolved, and what it asks the image to run
must run: each app service's command is started here as written (from the venv
the image would install, against a private Redis and the test database, with the
Dockerfile's DJANGO_SETTINGS_MODULE), and its health check is run against it, and
against nothing, so that a check that always passes fails here. Ports are the
containers' ones moved to free ports. The environment names must match what
electnepal/settings.py reads, in both directions.
"""

import ast
import base64
import contextlib
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

from tests.support.processes import RedisServer, free_port

ROOT = Path(settings.BASE_DIR)
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat", "flower")
VENV_BIN = Path(sys.executable).parent  # python, gunicorn and celery, as pip installs them in the image


# --- The file ---------------------------------------------------------------


def test_the_six_services_are_there():
    assert set(SERVICES) == {"web", "worker", "beat", "flower", "redis", "postgres"}


def test_app_services_share_one_image_through_the_anchor():
    root = yaml.compose(COMPOSE_TEXT)
    top = {key.value: value for key, value in root.value}
    x_app = top["x-app"]
    services = {key.value: value for key, value in top["services"].value}
    for name in APP_SERVICES:
        merged = [value for key, value in services[name].value if key.value == "<<"]
        assert merged and merged[0] is x_app, f"{name} does not merge *app"
    images = {(SERVICES[name]["build"], SERVICES[name]["image"]) for name in APP_SERVICES}
    assert images == {(".", "electnepal:local")}
    assert (ROOT / "Dockerfile").is_file()


def test_the_image_installs_what_the_commands_run():
    requirements = (ROOT / "requirements.txt").read_text()
    pinned = {line.split("==")[0].split("[")[0].lower() for line in requirements.splitlines() if "==" in line}
    assert {"gunicorn", "celery", "flower", "django-celery-beat", "concurrent-log-handler"} <= pinned
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    assert "DJANGO_SETTINGS_MODULE=electnepal.settings" in dockerfile


def test_redis_never_evicts_and_keeps_its_queues_on_disk():
    redis = SERVICES["redis"]
    command = redis["command"] if isinstance(redis["command"], list) else shlex.split(redis["command"])
    pairs = dict(zip(command[1::2], command[2::2]))
    assert command[0] == "redis-server"
    assert pairs["--maxmemory-policy"] == "noeviction"
    assert pairs["--appendonly"] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])


def test_every_service_has_a_health_check():
    for name, service in SERVICES.items():
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_flower_needs_basic_auth_and_stays_on_loopback():
    flower = SERVICES["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])


# --- The environment names ------------------------------------------------------


def _env_calls(path: Path):
    """(name, default node or None) of every env.<type>("NAME", ...) / env("NAME") / os.environ.get("NAME") call."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = ast.unparse(node.func)
        if re.fullmatch(r"env(\.\w+)?|os\.environ\.get|os\.getenv", func) and isinstance(node.args[0].value, str):
            default = next((kw.value for kw in node.keywords if kw.arg == "default"), None)
            yield node.args[0].value, default


SETTINGS_FILE = ROOT / "electnepal" / "settings.py"


def settings_names() -> set[str]:
    return {name for name, _ in _env_calls(SETTINGS_FILE)}


def example_lines() -> dict[str, tuple[str, bool]]:
    """NAME → (value, commented out) for every NAME=value line of .env.example."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"(#?)([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            found[match[2]] = (match[3], bool(match[1]))
    return found


def test_the_parsers_see_the_names():
    # Guards the two tests below against passing because a parser found nothing.
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LOG_MAX_BYTES", "AWS_SES_CONFIGURATION_SET"} <= settings_names()
    assert {"SECRET_KEY", "REDIS_URL", "FLOWER_BASIC_AUTH", "DEBUG"} <= set(example_lines())


def test_env_example_lists_every_setting_the_settings_read():
    missing = settings_names() - set(example_lines())
    assert missing == set(), f"read by settings.py but not in .env.example: {sorted(missing)}"


def test_every_env_example_name_is_read_somewhere():
    # Outside settings.py the environment is read by worker/celery.py (the Flower
    # guard), bin/run and Flower itself (FLOWER_* options).
    others = "\n".join(p.read_text() for p in [ROOT / "worker" / "celery.py", *sorted((ROOT / "bin").iterdir())])
    unread = {
        name for name in set(example_lines()) - settings_names() if not re.search(rf"\b{name}\b", others)
    }
    assert unread == set(), f"in .env.example but read nowhere: {sorted(unread)}"


def _constant(node):
    """The value of a default made of literals and arithmetic (10 * 1024 * 1024), else None."""
    if node is None or not all(isinstance(n, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop))
                               for n in ast.walk(node)):
        return None
    return eval(compile(ast.Expression(node), str(SETTINGS_FILE), "eval"))  # literals only, checked above


def test_a_commented_out_line_shows_the_default_settings_py_gives():
    # .env.example's own rule: "A line left commented out keeps the default that settings.py gives".
    defaults = {name: _constant(default) for name, default in _env_calls(SETTINGS_FILE)}
    wrong = []
    for name, (value, commented) in example_lines().items():
        default = defaults.get(name)
        if not commented or default is None or default == "":
            # Set here; or a computed default or an empty one (unset), where the line
            # shows an example or a placeholder instead.
            continue
        value = value.strip('"')
        if isinstance(default, bool):
            same = value.lower() == str(default).lower()
        elif isinstance(default, (int, float)):
            same = float(value) == float(default)
        else:
            same = value == default
        if not same:
            wrong.append(f"#{name}={value} but settings.py defaults to {default!r}")
    assert wrong == []


def worker_env_names() -> set[str]:
    """Names worker/celery.py reads from the environment itself (Flower's basic auth)."""
    return set(re.findall(r"os\.environ\.get\(\"(\w+)\"", (ROOT / "worker" / "celery.py").read_text()))


def test_compose_passes_only_names_the_settings_read():
    app_env = set(COMPOSE["x-app-env"]) | set(SERVICES["flower"]["environment"])
    assert "FLOWER_BASIC_AUTH" in worker_env_names()
    assert app_env - settings_names() - worker_env_names() == set()
    for name in APP_SERVICES:
        assert set(SERVICES[name]["environment"]) <= app_env
    # ${NAME...} is filled from the shell or .env: the names must be documented there.
    interpolated = set(re.findall(r"(?<!\$)\$\{(\w+)", COMPOSE_TEXT))
    assert interpolated and interpolated <= set(example_lines())


# --- The commands and health checks, run ---------------------------------------------


def _compose_string(value: str) -> str:
    return value.replace("$$", "$")  # Compose's escape for a literal $


def _argv(command) -> list[str]:
    """A service's command as Compose runs it: a list as is, a string split like a shell would."""
    return [_compose_string(part) for part in (command if isinstance(command, list) else shlex.split(command))]


def _check_argv(service: str, **replace: str) -> list[str]:
    test = SERVICES[service]["healthcheck"]["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    kind, *args = test
    args = [_compose_string(arg) for arg in args]
    for old, new in replace.items():
        args = [arg.replace(old, new) for arg in args]
    assert kind in ("CMD", "CMD-SHELL")
    return ["sh", "-c", args[0]] if kind == "CMD-SHELL" else args


def _seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


@pytest.fixture(scope="module")
def private_redis():
    """A Redis of our own: the worker started here must not take other tests' messages."""
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def container_env(django_db_setup, private_redis, tmp_path_factory):
    """The environment a container gets: the image's settings module, no .env, our services."""
    database = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + settings.DATABASES["default"]["NAME"])
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWER_")}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        DJANGO_SETTINGS_MODULE="electnepal.settings",
        READ_DOT_ENV="false",
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=database.geturl(),  # the test database, migrated
        REDIS_URL=private_redis.url,
        LOG_DIR=str(tmp_path_factory.mktemp("container-logs")),
        HOSTNAME=socket.gethostname(),  # Docker sets it; `sh` does not
        ALLOWED_HOSTS="localhost,127.0.0.1",  # compose's default
    )
    return env


def _health(argv: list[str], env: dict, service: str) -> subprocess.CompletedProcess:
    timeout = _seconds(SERVICES[service]["healthcheck"].get("timeout", "30s"))
    try:
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, returncode=-1, stdout="", stderr="health check timed out")


@contextlib.contextmanager
def _running(argv: list[str], env: dict, log: Path):
    """Start ``argv`` in its own process group; stop that group (SIGTERM, then SIGKILL) on exit."""
    with log.open("w") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _becomes_healthy(argv, env, service, process, log: Path, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        result = _health(argv, env, service)
        if result.returncode == 0:
            return
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{service}: health check never passed ({result.stderr[-500:]}); "
                        f"command output:\n{log.read_text()[-2000:]}")
        time.sleep(1)


def test_web_migrates_then_serves_and_its_health_check_sees_it(container_env, tmp_path):
    port = str(free_port())
    argv = [part.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for part in _argv(SERVICES["web"]["command"])]
    assert argv[:2] == ["sh", "-c"] and "migrate" in get_commands()
    check = _check_argv("web", **{"8000": port})
    assert _health(check, container_env, "web").returncode != 0  # nothing listens yet
    with _running(argv, container_env, tmp_path / "web.log") as process:
        _becomes_healthy(check, container_env, "web", process, tmp_path / "web.log")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=10) as response:
            assert response.status == 200  # gunicorn serves the Django app, database and broker answer


def test_worker_runs_and_answers_its_health_check(container_env, tmp_path):
    argv = _argv(SERVICES["worker"]["command"])
    assert argv[:4] == ["celery", "-A", "worker", "worker"]
    check = _check_argv("worker")
    assert _health(check, container_env, "worker").returncode != 0  # no worker yet: no reply
    log = tmp_path / "worker.log"
    with _running(argv, container_env, log) as process:
        # A ping sent before the worker listens waits the check's whole --timeout.
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        _becomes_healthy(check, container_env, "worker", process, log)


def test_flower_runs_behind_basic_auth_and_answers_its_health_check(container_env, tmp_path):
    port = str(free_port())
    argv = [part.replace("5555", port) for part in _argv(SERVICES["flower"]["command"])] + ["--address=127.0.0.1"]
    credentials = "ops:" + secrets.token_urlsafe(16)  # made here: the repository holds no password
    env = {**container_env, "FLOWER_BASIC_AUTH": credentials}
    check = _check_argv("flower", **{"5555": port})
    assert _health(check, env, "flower").returncode != 0
    with _running(argv, env, tmp_path / "flower.log") as process:
        _becomes_healthy(check, env, "flower", process, tmp_path / "flower.log")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert refused.value.code == 401
        login = base64.b64encode(credentials.encode()).decode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Authorization": f"Basic {login}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200


def test_beat_runs_and_its_health_check_sees_it_send(container_env, tmp_path, transactional_db):
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    # The sweeper, as mailer's migration creates it (a transactional test before this
    # one may have flushed it), last sent an hour ago: the check must fail.
    every_30s, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="mailer: outbox sweeper", defaults={"task": "mailer.sweep", "interval": every_30s, "enabled": True}
    )
    PeriodicTask.objects.update(last_run_at=timezone.now() - timedelta(hours=1))

    argv = _argv(SERVICES["beat"]["command"])
    assert argv[:4] == ["celery", "-A", "worker", "beat"]
    check = _check_argv("beat")
    assert _health(check, container_env, "beat").returncode != 0
    with _running(argv, container_env, tmp_path / "beat.log") as process:
        _becomes_healthy(check, container_env, "beat", process, tmp_path / "beat.log")
