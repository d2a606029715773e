"""docker-compose.yml, compose.dev.yml, the Dockerfile and .env.example, checked without a Docker engine.

The files must parse with their anchors resolved, and what they ask the image to
run must run: each app service's command is started here as written, with the
environment Compose would give its container and nothing else (from a test .env,
the Dockerfile's DJANGO_SETTINGS_MODULE, against the test database and Redis run
with the redis service's own command and password), and its health check is run
against it, and against nothing, so that a check that always passes fails here.
Stopping is checked as Docker does it: SIGTERM to the command only, and nothing
may be left running. Ports are the containers' ones moved to free ports. The
environment names must match what electnepal/settings.py reads, in both directions.
The proxy's configuration is checked in tests/test_proxy.py.
"""

import ast
import base64
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
import yaml
from django.conf import settings
from django.core.management import get_commands

from tests.support.compose import (
    COMPOSE,
    COMPOSE_TEXT,
    SERVICES,
    Unset,
    env_files,
    interpolate,
    running,
    service_env,
    stop_like_docker,
)
from tests.support.compose import (
    argv as _argv,
)
from tests.support.processes import free_port

ROOT = Path(settings.BASE_DIR)
APP_SERVICES = ("migrate", "collectstatic", "web", "worker", "beat")  # the app's image and its .env
ONE_SHOTS = ("migrate", "collectstatic")
LONG_RUNNING = tuple(name for name in SERVICES if name not in ONE_SHOTS)
VENV_BIN = Path(sys.executable).parent  # python, gunicorn and celery, as pip installs them in the image
SHELLS = {"sh", "bash", "ash", "dash", "/bin/sh", "/bin/bash"}

# The .env of the tests: what an operator puts there (placeholders for the tests only).
DOTENV = {
    # Made at run time: the repository holds no password, not even a test's (tests/test_repository.py).
    "SECRET_KEY": secrets.token_urlsafe(50),
    "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
    "REDIS_PASSWORD": secrets.token_urlsafe(16),
    "FLOWER_BASIC_AUTH": "ops:" + secrets.token_urlsafe(16),
    "SITE_URL": "https://electnepal.test",
    "ALLOWED_HOSTS": "electnepal.test",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
}


# --- The file ---------------------------------------------------------------


def test_the_tests_read_variables_as_compose_does():
    # What every test below relies on to see a container's values.
    env = {"A": "a", "EMPTY": ""}
    assert interpolate("${A}-${A:-x}-${EMPTY:-d}-${EMPTY-d}-${NONE:-${A}}-$$A", env) == "a-a-d--a-$A"
    with pytest.raises(Unset):
        interpolate("${EMPTY:?needed}", env)
    assert interpolate("${EMPTY?needed}", env) == ""


def test_the_services_are_there():
    assert set(SERVICES) == {
        "migrate",
        "collectstatic",
        "web",
        "worker",
        "beat",
        "flower",
        "proxy",
        "redis",
        "postgres",
    }


def _merged(node):
    return [value for key, value in node.value if key.value == "<<"]


def test_app_services_share_one_image_through_the_anchors():
    root = yaml.compose(COMPOSE_TEXT)
    top = {key.value: value for key, value in root.value}
    services = {key.value: value for key, value in top["services"].value}
    for name in APP_SERVICES:
        merged = _merged(services[name])
        assert merged and merged[0] is top["x-app"], f"{name} does not merge *app"
    assert _merged(services["flower"])[0] is top["x-image"]  # the image, not the app's environment
    assert _merged(top["x-app"])[0] is top["x-image"]
    images = {(SERVICES[name]["build"], SERVICES[name]["image"]) for name in (*APP_SERVICES, "flower")}
    assert images == {(".", "electnepal:local")}
    assert (ROOT / "Dockerfile").is_file()


def test_the_image_installs_what_the_commands_run():
    requirements = (ROOT / "requirements.txt").read_text()
    pinned = {line.split("==")[0].split("[")[0].lower() for line in requirements.splitlines() if "==" in line}
    assert {"gunicorn", "celery", "flower", "django-celery-beat", "concurrent-log-handler"} <= pinned
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile
    assert "DJANGO_SETTINGS_MODULE=electnepal.settings" in dockerfile


def test_the_image_owns_every_folder_a_volume_is_mounted_on():
    # An empty named volume takes the owner of the folder it is mounted on; a folder
    # the image lacks is made as root's, and the app (uid 10001) could not write there.
    dockerfile = (ROOT / "Dockerfile").read_text()
    made = re.search(r"RUN mkdir -p ([^&\n]+)&& chown -R app:app ([^\n]+)", dockerfile)
    assert made, "the Dockerfile makes and chowns the folders the app writes"
    folders, owned = made[1].split(), made[2].split()
    targets = {volume.split(":")[1] for name in APP_SERVICES for volume in SERVICES[name].get("volumes", [])}
    assert targets >= {"/app/logs", "/app/var/media", "/app/var/static"}
    for target in targets:
        relative = target.removeprefix("/app/")
        assert relative in folders, f"{target} is not made by the Dockerfile"
        assert any(relative == f or relative.startswith(f + "/") for f in owned), f"{target} is not the app's"


def test_every_long_running_service_has_a_health_check():
    for name in LONG_RUNNING:
        check = SERVICES[name].get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert SERVICES[name].get("restart") == "unless-stopped", name
    for name in ONE_SHOTS:
        assert SERVICES[name]["restart"] == "no", f"{name} is a one-shot: never restarted"


def test_migrations_run_once_before_web_workers_and_beat():
    assert _argv(SERVICES["migrate"]["command"])[:3] == ["python", "manage.py", "migrate"]
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    for name, service in SERVICES.items():
        if name != "migrate":
            assert "migrate" not in " ".join(_argv(service.get("command", []))), f"{name} migrates too"
    assert SERVICES["proxy"]["depends_on"]["collectstatic"] == {"condition": "service_completed_successfully"}


def test_the_workers_give_the_cpu_to_the_web_on_a_shared_host():
    # Containers are CPU groups of their own: a nice inside one orders nothing across them.
    web = SERVICES["web"].get("cpu_shares", 1024)
    assert SERVICES["worker"].get("cpu_shares", 1024) < web


def test_no_shell_is_pid_1():
    # A shell as PID 1 ignores SIGTERM and does not pass it on: `docker stop` waits,
    # then kills the program mid-request. A shell is allowed only to exec the program.
    for name in LONG_RUNNING:
        if "command" not in SERVICES[name]:
            assert name == "postgres"  # the official image's entrypoint execs postgres itself
            continue
        command = _argv(SERVICES[name]["command"])
        if command[0] in SHELLS:
            assert command[1] == "-c", name
            lines = [line for line in command[2].splitlines() if line.strip()]
            assert lines[0].startswith("exec "), f"{name}: the shell does not exec its program"
    assert COMPOSE["x-image"]["init"] is True  # and tini reaps orphans in the app's containers


def test_flower_needs_basic_auth_and_stays_on_loopback():
    flower = SERVICES["flower"]
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])


def _published(service: str) -> list[str]:
    return [str(port) for port in SERVICES[service].get("ports", [])]


def test_only_the_proxy_is_published_on_public_interfaces():
    assert {port.split("/")[0] for port in _published("proxy")} == {"80:80", "443:443"}
    for name in SERVICES:
        if name != "proxy":
            assert all(port.startswith("127.0.0.1:") for port in _published(name)), name
    assert _published("web") == [] and _published("redis") == [] and _published("postgres") == []


def test_each_service_gets_only_its_own_variables():
    for name in ("flower", "proxy", "redis", "postgres"):
        assert env_files(name) == [], f"{name} must not get the app's .env"
    assert set(service_env("flower", DOTENV)) == {"REDIS_URL", "FLOWER_BASIC_AUTH"}
    assert set(service_env("proxy", DOTENV)) == {"SITE_URL"}
    assert set(service_env("redis", DOTENV)) == {"REDIS_PASSWORD"}
    assert set(service_env("postgres", DOTENV)) == {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}
    for name in APP_SERVICES:
        assert env_files(name) == [".env"]
        env = service_env(name, DOTENV)
        assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_SECRET_ACCESS_KEY"} <= set(env), name
    # Behind the proxy, web alone trusts its forwarded headers.
    web = service_env("web", DOTENV)
    assert web["TRUSTED_PROXY_COUNT"] == "1" and web["SECURE_PROXY_SSL_HEADER"] == "HTTP_X_FORWARDED_PROTO"
    assert "TRUSTED_PROXY_COUNT" not in service_env("worker", DOTENV)


_CREDENTIALS = re.compile(r"://([^:/@\s]*):([^@\s]+)@")
_SECRETISH = re.compile(r"PASSWORD|SECRET|_KEY$|_AUTH$|TOKEN")


def test_no_secret_is_written_in_the_files():
    for name, service in SERVICES.items():
        for variable, value in (service.get("environment") or {}).items():
            value = str(value)
            if _SECRETISH.search(variable):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), f"{name}: {variable} is written in the file"
            for match in _CREDENTIALS.finditer(value):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", match[2]), f"{name}: a password in {variable}"
    assert "POSTGRES_PASSWORD: electnepal" not in COMPOSE_TEXT
    # And without them in .env, Compose refuses to start the services that need them.
    for secret, service in [
        ("POSTGRES_PASSWORD", "postgres"),
        ("REDIS_PASSWORD", "redis"),
        ("REDIS_PASSWORD", "flower"),
        ("SECRET_KEY", "web"),
        ("POSTGRES_PASSWORD", "worker"),
    ]:
        with pytest.raises(Unset):
            service_env(service, {k: v for k, v in DOTENV.items() if k != secret})


def test_every_redis_client_is_given_the_password():
    url = f"redis://:{DOTENV['REDIS_PASSWORD']}@redis:6379/0"
    for name in (*APP_SERVICES, "flower"):
        assert service_env(name, DOTENV)["REDIS_URL"] == url, name
    assert service_env("redis", DOTENV)["REDIS_PASSWORD"] == DOTENV["REDIS_PASSWORD"]


# --- compose.dev.yml: PostgreSQL and Redis for `make test`, on loopback ---------------------------

DEV = yaml.safe_load((ROOT / "compose.dev.yml").read_text())


def _test_settings_default(name: str) -> str:
    """The URL tests/settings.py uses when the environment names none."""
    tree = ast.parse((ROOT / "tests" / "settings.py").read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) == "os.environ.setdefault"
            and node.args[0].value == name
        ):
            return node.args[1].value
    raise LookupError(name)


def test_the_dev_file_publishes_what_make_test_expects_on_loopback_only():
    services = DEV["services"]
    assert set(services) == {"postgres", "redis"}
    database = urlsplit(_test_settings_default("DATABASE_URL"))
    cache = urlsplit(_test_settings_default("REDIS_URL"))
    postgres, redis_service = services["postgres"], services["redis"]
    assert postgres["ports"] == [f"127.0.0.1:{database.port}:5432"]
    assert redis_service["ports"] == [f"127.0.0.1:{cache.port}:6379"]
    env = postgres["environment"]
    # The user the tests connect as, without a password (trust, as on this machine), and
    # allowed to create the test database.
    assert env["POSTGRES_USER"] == database.username and database.password is None
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert cache.password is None and "requirepass" not in str(redis_service.get("command", ""))
    for service in services.values():
        assert service.get("healthcheck", {}).get("test")
    assert DEV["name"] != COMPOSE.get("name", "electnepal")  # its own volumes, never the stack's


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
    # guard), bin/run, Flower itself (FLOWER_* options) and docker-compose.yml.
    # docker-compose.yml reads the passwords it puts in the services' URLs.
    others = "\n".join(
        p.read_text()
        for p in [ROOT / "worker" / "celery.py", ROOT / "docker-compose.yml", *sorted((ROOT / "bin").iterdir())]
    )
    unread = {name for name in set(example_lines()) - settings_names() if not re.search(rf"\b{name}\b", others)}
    assert unread == set(), f"in .env.example but read nowhere: {sorted(unread)}"


def _constant(node):
    """The value of a default made of literals and arithmetic (10 * 1024 * 1024), else None."""
    if node is None or not all(
        isinstance(n, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)) for n in ast.walk(node)
    ):
        return None
    # ast.literal_eval refuses arithmetic such as 10 * 1024 * 1024; the walk above allows literals only.
    return eval(compile(ast.Expression(node), str(SETTINGS_FILE), "eval"))  # noqa: S307 literals only, checked above


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
    passed = {name for service in (*APP_SERVICES, "flower") for name in SERVICES[service].get("environment", {})}
    assert "FLOWER_BASIC_AUTH" in worker_env_names()
    assert passed - settings_names() - worker_env_names() == set()
    # ${NAME...} is filled from the shell or .env: the names must be documented there.
    interpolated = set(re.findall(r"(?<!\$)\$\{(\w+)", COMPOSE_TEXT))
    assert interpolated and interpolated <= set(example_lines())
    assert set(DOTENV) <= set(example_lines())


# --- The commands and health checks, run ---------------------------------------------


def _check_argv(service: str, **replace: str) -> list[str]:
    test = SERVICES[service]["healthcheck"]["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    kind, *args = test
    args = [arg.replace("$$", "$") for arg in args]
    for old, new in replace.items():
        args = [arg.replace(old, new) for arg in args]
    assert kind in ("CMD", "CMD-SHELL")
    return ["sh", "-c", args[0]] if kind == "CMD-SHELL" else args


def _seconds(duration: str) -> float:
    return float(duration.rstrip("s"))


def _health(argv: list[str], env: dict, service: str) -> subprocess.CompletedProcess:
    timeout = _seconds(SERVICES[service]["healthcheck"].get("timeout", "30s"))
    try:
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, returncode=-1, stdout="", stderr="health check timed out")


def _becomes_healthy(argv, env, service, process, log: Path, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        result = _health(argv, env, service)
        if result.returncode == 0:
            return
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(
                f"{service}: health check never passed ({result.stderr[-500:]}); "
                f"command output:\n{log.read_text()[-2000:]}"
            )
        time.sleep(1)


def _stops_on_sigterm(service: str, process, log: Path) -> None:
    """Docker's stop: SIGTERM to PID 1, SIGKILL after the grace period (10 s unless set)."""
    left = stop_like_docker(process, _seconds(SERVICES[service].get("stop_grace_period", "10s")))
    assert left == [], f"{service}: still running after SIGTERM and the grace period: {left}"


@pytest.fixture(scope="module")
def compose_redis(tmp_path_factory):
    """Redis run with the redis service's own command and environment, on a free port."""
    folder = tmp_path_factory.mktemp("redis-data")
    port = free_port()
    command = _argv(SERVICES["redis"]["command"])
    assert command[:2] == ["sh", "-c"] and "exec redis-server -" in command[2]
    script = command[2].replace(
        "exec redis-server -", f"exec redis-server - --port {port} --bind 127.0.0.1 --dir {folder}"
    )
    env = {"PATH": os.environ["PATH"], **service_env("redis", DOTENV)}
    with running(["sh", "-c", script], env, folder / "redis.log", cwd=folder) as process:
        client = redis.Redis(port=port, password=DOTENV["REDIS_PASSWORD"])
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, (folder / "redis.log").read_text()
                time.sleep(0.1)
        client.flushall()
        yield {
            "port": port,
            "env": env,
            "process": process,
            "client": client,
            "url": f"redis://:{DOTENV['REDIS_PASSWORD']}@127.0.0.1:{port}/0",
        }
        client.close()


def test_redis_keeps_its_queues_wants_its_password_and_its_check_knows_it(compose_redis):
    client = compose_redis["client"]
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert any(volume.endswith(":/data") for volume in SERVICES["redis"]["volumes"])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=compose_redis["port"]).ping()
    # No process shows the password on its command line (ps, /proc/<pid>/cmdline).
    pid = compose_redis["process"].pid
    assert DOTENV["REDIS_PASSWORD"] not in Path(f"/proc/{pid}/cmdline").read_text()
    port = str(compose_redis["port"])
    check = [*_check_argv("redis")]
    check[-1] = check[-1].replace("redis-cli", f"redis-cli -p {port}")
    assert _health(check, compose_redis["env"], "redis").returncode == 0
    wrong = {**compose_redis["env"], "REDIS_PASSWORD": "not-the-password"}
    assert _health(check, wrong, "redis").returncode != 0  # NOAUTH is an error reply, not PONG


def test_django_cache_celery_and_the_mailer_accept_the_password_url(compose_redis):
    from django.core.cache.backends.redis import RedisCache
    from kombu import Connection

    from mailer.sending.redis_client import redis_client
    from worker import broker

    url = compose_redis["url"]
    cache = RedisCache(url, {"KEY_PREFIX": "compose-test"})  # as CACHES builds it from REDIS_URL
    cache.set("k", {"v": 1}, 30)
    assert cache.get("k") == {"v": 1}
    assert redis_client(url).ping()  # the limiter, doorbell, breaker and metrics' client
    broker.install()  # the project's redis:// transport, as worker/celery.py installs it
    with Connection(url) as connection:
        queue = connection.SimpleQueue("compose-test")
        queue.put({"ping": 1})
        message = queue.get(timeout=5)
        assert message.payload == {"ping": 1}
        message.ack()
        queue.close()


@pytest.fixture(scope="module")
def container_env(django_db_setup, compose_redis, tmp_path_factory):
    """A service's container environment: Compose's for it from the tests' .env, the image's, our hosts."""
    database = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + settings.DATABASES["default"]["NAME"])
    logs = tmp_path_factory.mktemp("container-logs")

    def env_of(service: str) -> dict[str, str]:
        env = service_env(service, DOTENV)
        if "DATABASE_URL" in env:
            assert env["DATABASE_URL"].startswith(f"postgres://electnepal:{DOTENV['POSTGRES_PASSWORD']}@postgres:5432/")
            env["DATABASE_URL"] = database.geturl()  # the test database, migrated
        env["REDIS_URL"] = env["REDIS_URL"].replace("@redis:6379/", f"@127.0.0.1:{compose_redis['port']}/")
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
            HOME=os.environ.get("HOME", "/tmp"),
            DJANGO_SETTINGS_MODULE="electnepal.settings",  # the Dockerfile's ENV
            PYTHONUNBUFFERED="1",
            READ_DOT_ENV="false",  # the image has no .env (.dockerignore)
            LOG_DIR=str(logs),  # the email-logs volume
            HOSTNAME=socket.gethostname(),  # Docker sets it; `sh` does not
        )
        return env

    return env_of


def test_migrate_runs_and_exits(container_env, tmp_path):
    argv = _argv(SERVICES["migrate"]["command"])
    assert "migrate" in get_commands()
    result = subprocess.run(argv, cwd=ROOT, env=container_env("migrate"), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]


def test_web_serves_answers_its_health_check_whatever_the_host_and_stops(container_env, tmp_path):
    port = str(free_port())
    argv = [part.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for part in _argv(SERVICES["web"]["command"])]
    assert argv[0] == "gunicorn"
    env = container_env("web")
    check = _check_argv("web", **{"8000": port})
    assert _health(check, env, "web").returncode != 0  # nothing listens yet
    log = tmp_path / "web.log"
    with running(argv, env, log) as process:
        # The check asks for http://127.0.0.1:<port>/healthz/: not an allowed host, not https.
        _becomes_healthy(check, env, "web", process, log)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "electnepal.test"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200  # gunicorn serves the Django app for the site's host
        _stops_on_sigterm("web", process, log)


def test_worker_runs_answers_its_health_check_and_stops(container_env, tmp_path):
    argv = _argv(SERVICES["worker"]["command"])
    assert argv[:4] == ["celery", "-A", "worker", "worker"]
    env = container_env("worker")
    check = _check_argv("worker")
    assert _health(check, env, "worker").returncode != 0  # no worker yet: no reply
    log = tmp_path / "worker.log"
    with running(argv, env, log) as process:
        # A ping sent before the worker listens waits the check's whole --timeout.
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        _becomes_healthy(check, env, "worker", process, log)
        _stops_on_sigterm("worker", process, log)


def test_flower_runs_with_its_own_variables_only_behind_basic_auth(container_env, tmp_path):
    port = str(free_port())
    argv = [part.replace("5555", port) for part in _argv(SERVICES["flower"]["command"])] + ["--address=127.0.0.1"]
    env = container_env("flower")
    assert not {"SECRET_KEY", "DATABASE_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env)
    check = _check_argv("flower", **{"5555": port})
    assert _health(check, env, "flower").returncode != 0
    log = tmp_path / "flower.log"
    with running(argv, env, log) as process:
        _becomes_healthy(check, env, "flower", process, log)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert refused.value.code == 401
        login = base64.b64encode(DOTENV["FLOWER_BASIC_AUTH"].encode()).decode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Authorization": f"Basic {login}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        _stops_on_sigterm("flower", process, log)


def test_beat_runs_its_health_check_sees_it_send_and_it_stops(container_env, tmp_path, transactional_db):
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
    env = container_env("beat")
    check = _check_argv("beat")
    assert _health(check, env, "beat").returncode != 0
    log = tmp_path / "beat.log"
    with running(argv, env, log) as process:
        _becomes_healthy(check, env, "beat", process, log)
        _stops_on_sigterm("beat", process, log)
