"""The project's logging configuration (settings.LOGGING), built from a few settings.

- ``LOG_FORMAT``: ``plain`` (one readable line per record, the default) or
  ``json`` (one JSON object per line, python-json-logger, for log shippers); the
  time is ISO 8601 with the zone's offset either way in JSON
  (``2026-11-25T00:04:11.462+05:45``).
- ``LOG_TO_STDOUT``: containers: every handler writes to stdout and nothing goes to
  a file (no ``logs/email.log``; the platform collects stdout). Off by default: the
  mailer's per-attempt lines go to ``LOG_DIR/email.log`` as README "Logs" shows.
- Errors of the ``django`` logger (a 500, above all) also reach ADMINS through the
  outbox (electnepal.errors.AdminOutboxHandler), with DEBUG off.

Every handler blanks link tokens (electnepal.redaction.RedactTokensFilter).
"""

from datetime import datetime
from pathlib import Path

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from .redaction import redact

FORMATS = ("plain", "json")
PLAIN = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonLinesFormatter(JsonFormatter):
    """One JSON object per record: time (ISO 8601, local offset), level, logger, message, extras.

    Django attaches the request object to its records (``extra={"request": ...}``):
    it is left out, since its repr holds the raw path and the message already holds
    the redacted one. Every string value is passed through ``redact`` too, as the
    filter only rewrites the message and the traceback.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)  # Nepali stays readable
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        super().__init__(PLAIN, **kwargs)

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging.Formatter's name)
        # The process's local zone (Django sets TZ from TIME_ZONE), written with its offset.
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")

    def process_log_record(self, log_data):
        return {key: redact(value) if isinstance(value, str) else value for key, value in log_data.items()}


def logging_config(*, log_format: str, to_stdout: bool, log_dir: Path, max_bytes: int, backup_count: int) -> dict:
    """The ``LOGGING`` dict for ``logging.config.dictConfig``; ValueError for an unknown ``log_format``."""
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    json = log_format == "json"
    stream = "ext://sys.stdout" if to_stdout else "ext://sys.stderr"
    formatters = {
        "plain": {"format": PLAIN},
        "json": {"()": JsonLinesFormatter},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    }
    line = "json" if json else "plain"
    handlers = {
        "console": {
            "class": "logging.StreamHandler",
            "stream": stream,
            "formatter": line,
            "filters": ["redact_tokens"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "stream": stream,
            "formatter": "json" if json else "django.server",
            "filters": ["redact_tokens"],
        },
        # One email per distinct error to ADMINS, through the outbox (electnepal.errors).
        "admins_outbox": {
            "level": "ERROR",
            "class": "electnepal.errors.AdminOutboxHandler",
            "filters": ["require_debug_false", "redact_tokens"],
        },
    }
    mailer_handlers = ["console"]
    if not to_stdout:
        # Web, worker and beat processes all write email.log. The standard
        # RotatingFileHandler would let each process rotate on its own and lose lines;
        # this one takes a file lock (LOG_DIR/.__email.lock) around every write and
        # rollover, so the processes rotate it together.
        handlers["email_file"] = {
            "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
            "filename": str(log_dir / "email.log"),
            "maxBytes": max_bytes,
            "backupCount": backup_count,
            "formatter": line,
            "encoding": "utf-8",
            "filters": ["redact_tokens"],
            # The handler makes this folder (LOG_DIR) when logging is configured, if need be.
            "lock_file_directory": str(log_dir),
        }
        mailer_handlers.append("email_file")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        # Every handler blanks the token of a verification or reset link: Django logs
        # request.path with every 4xx/5xx ("Not Found: …") and runserver every request line.
        "filters": {
            "redact_tokens": {"()": "electnepal.redaction.RedactTokensFilter"},
            "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        },
        "handlers": handlers,
        "loggers": {
            "mailer": {"handlers": mailer_handlers, "level": "INFO", "propagate": False},
            "django": {"handlers": ["console", "admins_outbox"], "level": "INFO"},
            "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
            "accounts": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
