"""Settings as a production host computes them: electnepal.settings in a clean process, no .env."""

import json
import os
import secrets
import subprocess
import sys

from django.conf import settings as django_settings

ROOT = django_settings.BASE_DIR


def clean_env(**extra) -> dict:
    """A process environment holding only what a production host would set (no .env, no test settings)."""
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH"}}
    env.update(
        READ_DOT_ENV="false", DJANGO_SETTINGS_MODULE="electnepal.settings", LOG_DIR=str(ROOT / "var" / "test-logs")
    )
    env.update(extra)
    return env


def production_settings(*names: str, **env) -> dict:
    """Setting values as electnepal.settings computes them with DEBUG=false and ``env``."""
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SITE_URL": "https://electnepal.example.org",
        **env,
    }
    script = (
        "import json, sys; import electnepal.settings as s; "
        "print(json.dumps({n: getattr(s, n, None) for n in sys.argv[1:]}, default=repr))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *names],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
