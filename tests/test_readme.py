"""README.md's settings table lists every setting electnepal/settings.py reads from the environment."""

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def environment_names() -> set[str]:
    """Every NAME of env("NAME"), env.<type>("NAME"), os.environ.get("NAME"), os.getenv("NAME") in settings.py."""
    names = set()
    for node in ast.walk(ast.parse((ROOT / "electnepal" / "settings.py").read_text())):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and re.fullmatch(r"env(\.\w+)?|os\.environ\.get|os\.getenv", ast.unparse(node.func))
        ):
            names.add(node.args[0].value)
    return names


def readme_table_names() -> set[str]:
    """The names in the first column of README's "## Settings" table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_the_parsers_find_names():
    assert {"SECRET_KEY", "DATABASE_URL", "LOG_FORMAT", "SENTRY_DSN"} <= environment_names()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= readme_table_names()


def test_every_setting_read_from_the_environment_is_in_the_readme_table():
    missing = environment_names() - readme_table_names()
    assert missing == set(), f"read by electnepal/settings.py, missing from README's settings table: {sorted(missing)}"


def test_the_first_screen_says_how_to_make_the_staff_user():
    """Previews, the dashboard and candidate review need a staff user: say so before anything else."""
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:25])
    assert "manage.py createsuperuser" in first_screen and "make run" in first_screen
    assert ".venv/bin/python manage.py createsuperuser" in (ROOT / "bin" / "run").read_text()  # make run's banner
