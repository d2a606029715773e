"""docker-compose.yml as Compose reads it, without a Docker engine, and its commands run here.

- ``interpolate``: Compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}``
  and ``$$`` (a literal ``$``), so a test sees the values a container gets.
- ``service_env(name, dotenv)``: the environment of that service's container, from
  its ``env_file`` (.env, given as ``dotenv``) and ``environment``, nothing else.
- ``running(argv, env, log)``: a command in its own process group, stopped (the
  whole group) on exit; ``stop_like_docker`` sends SIGTERM to the command only, as
  Docker does to PID 1, and says what is left of the group.
"""

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|\$(\w+)")


class Unset(KeyError):
    """A ``${NAME:?message}`` whose NAME is unset or empty: Compose refuses to start."""


def interpolate(text: str, env: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        if match[0] == "$$":
            return "$"
        name, operator, argument = match[1] or match[4], match[2], match[3] or ""
        found = env.get(name)
        if operator in (":-", "-") and (found is None or (operator == ":-" and found == "")):
            return interpolate(argument, env)
        if operator in (":?", "?") and (found is None or (operator == ":?" and found == "")):
            raise Unset(f"{name}: {argument}")
        return found or ""

    return _VARIABLE.sub(value, text)


def interpolated(node, env: dict[str, str]):
    """A parsed YAML node with every string interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    return node


def env_files(service: str) -> list[str]:
    files = SERVICES[service].get("env_file", [])
    return [
        entry if isinstance(entry, str) else entry["path"] for entry in ([files] if isinstance(files, str) else files)
    ]


def service_env(service: str, dotenv: dict[str, str]) -> dict[str, str]:
    """What the container of ``service`` finds in its environment, given .env's ``dotenv``."""
    env = dict(dotenv) if ".env" in env_files(service) else {}
    environment = SERVICES[service].get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({name: interpolate(str(value), dotenv) for name, value in environment.items()})
    return env


def argv(command) -> list[str]:
    """A command as Compose passes it (list as is, a string split like a shell would), ``$$`` → ``$``."""
    import shlex

    return [part.replace("$$", "$") for part in (command if isinstance(command, list) else shlex.split(command))]


@contextlib.contextmanager
def running(command: list[str], env: dict, log: Path, cwd: Path = ROOT):
    """Start ``command`` in its own process group; stop that group (SIGTERM, then SIGKILL) on exit."""
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            if _group_gone(process, 30):
                break


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _group_gone(process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()  # reap the leader, or the group never empties
        if not _group_alive(process.pid):
            return True
        time.sleep(0.1)
    return False


def stop_like_docker(process: subprocess.Popen, grace: float) -> list[str]:
    """SIGTERM to the started process only (Docker signals PID 1, nothing else); after ``grace``
    seconds, the command lines of what is still running in its process group (empty: all stopped)."""
    process.send_signal(signal.SIGTERM)
    if _group_gone(process, grace):
        return []
    result = subprocess.run(["ps", "-o", "args=", "-s", str(process.pid)], capture_output=True, text=True)
    return [line for line in result.stdout.splitlines() if line.strip()] or ["(group still alive)"]
