"""The import contract (.importlinter) holds, can fail, and test modules stand alone."""

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("accounts", "candidates", "common", "electnepal", "mailer", "worker")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_import_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        # the delivery core reaching up into operations
        ("mailer/outbox/delivery.py", "from mailer.ops import alerts", "The mailer's folders are layered"),
        # the mailer reaching into an app
        ("mailer/outbox/enqueue.py", "import accounts.models", "The project's packages are layered"),
        # the worker naming a task by import rather than by name
        ("worker/queues.py", "from mailer import tasks", "The worker imports no app"),
        # an app reaching past mailer.api
        ("candidates/services.py", "from mailer.outbox import state", "Other apps reach the mailer through mailer.api"),
        # a cycle dodged by an import inside a function
        ("accounts/services.py", "def _late():\n    from . import tasks", "No import cycles"),
    ],
)
def test_a_forbidden_import_breaks_the_contract(tmp_path, module, forbidden_import, contract):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n\n{forbidden_import}\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout
    broken = result.stdout[result.stdout.index("Broken contracts") :]
    assert contract in broken


def test_no_test_module_imports_another():
    """Shared helpers live in tests.support; a test module is never a library for another."""
    graph = grimp.build_graph("tests", cache_dir=None)

    def is_test_module(name: str) -> bool:
        last = name.rsplit(".", 1)[-1]
        return last.startswith("test_") or last == "conftest"

    offending = sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if is_test_module(importer) and is_test_module(imported)
    )
    assert offending == []
