"""What a developer relies on around the code: locks with hashes, the Makefile, lint, the browser marker, a licence."""

import re
import subprocess
import sys
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock(name: str) -> dict[str, list[tuple[str, list[str]]]]:
    """package -> [(version, hashes)] of a lock (two versions when markers split it by Python)."""
    found: dict[str, list] = {}
    text = (ROOT / name).read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
            found.setdefault(normal(match[1]), []).append((match[3], hashes))
    return found


def pins(name: str) -> dict[str, str]:
    return {normal(m[1]): m[3] for m in PIN.finditer((ROOT / name).read_text())}


def test_every_package_of_both_locks_has_hashes():
    for name in ("requirements.txt", "requirements-dev.txt"):
        packages = lock(name)
        assert len(packages) > 40, name
        unhashed = [p for p, versions in packages.items() for _, hashes in versions if not hashes]
        assert unhashed == [], name


def test_the_locks_hold_the_direct_pins_and_agree():
    runtime, dev = lock("requirements.txt"), lock("requirements-dev.txt")
    for source, locked in (("requirements.in", runtime), ("requirements-dev.in", dev)):
        for package, version in pins(source).items():
            assert version in [v for v, _ in locked.get(package, [])], f"{source}: {package}=={version} not locked"
    for package, version in pins("requirements.in").items():  # the dev lock installs the runtime's pins too
        assert version in [v for v, _ in dev[package]], package
    shared = {p: [v for v, _ in runtime[p]] for p in runtime if p in dev}
    assert shared == {p: [v for v, _ in dev[p]] for p in shared}, "the two locks pin a package differently"
    assert "-r requirements.in" in (ROOT / "requirements-dev.in").read_text()


def test_make_venv_installs_the_lock_with_hashes_and_checks_python():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --require-hashes --no-deps -r requirements-dev.txt" in makefile
    dry = subprocess.run(["make", "-n", "-B", "venv"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--require-hashes" in dry and "sys.version_info[:2] != (3, 11)" in dry


def test_make_refuses_another_python_and_says_how_to_get_3_11(tmp_path):
    other = tmp_path / "python3"
    other.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; sys.exit(1)' \"$@\"\n")
    other.chmod(0o755)
    result = subprocess.run(["make", "python", f"PYTHON={other}"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"Python 3.11 is needed, and {other} is not it" in result.stderr
    for how in (
        "apt-get install python3.11",
        "dnf install python3.11",
        "brew install python@3.11",
        "uv python install",
    ):
        assert how in result.stderr
    assert subprocess.run(["make", "python", f"PYTHON={sys.executable}"], cwd=ROOT).returncode == 0


def test_make_test_lints_and_test_fast_leaves_the_browser_out():
    def dry(target):
        return subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    full, fast = dry("test"), dry("test-fast")
    for text in (full, fast):
        assert "ruff check ." in text and "ruff format --check ." in text
    assert "bin/ensure-browser" in full and "bin/ensure-browser" not in fast
    assert '-m "not browser"' in fast


def test_the_browser_marker_covers_tests_browser_exactly():
    def collected(*args):
        out = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout
        return [line for line in out.splitlines() if "::" in line]

    browser = collected("-m", "browser", "tests/browser", "tests/electnepal/test_redaction.py")
    assert browser and all(line.startswith("tests/browser/") for line in browser)
    assert collected("-m", "not browser", "tests/browser") == []


def test_ruff_and_pre_commit_are_configured_alike():
    ruff = (ROOT / "ruff.toml").read_text()
    assert "[lint]" in ruff and "[format]" in ruff and 'target-version = "py311"' in ruff
    version = pins("requirements-dev.in")["ruff"]
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
    ruff_repo = next(repo for repo in hooks if repo["repo"].endswith("/ruff-pre-commit"))
    assert ruff_repo["rev"] == f"v{version}"
    assert {hook["id"] for hook in ruff_repo["hooks"]} == {"ruff-check", "ruff-format"}


def test_a_licence_is_stated():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "License: MIT" in (ROOT / "README.md").read_text()
