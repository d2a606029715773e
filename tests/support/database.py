"""The test database as a DATABASE_URL, for the processes a test starts (workers, beat, commands).

Built from the connection's own settings, so a password, another host or port in
the DATABASE_URL the suite runs with reaches the child processes too.
"""

from urllib.parse import quote


def database_url(connection, *, name: str | None = None, host: str | None = None, port: int | str | None = None) -> str:
    """``postgres://user:password@host:port/name`` of ``connection`` (its test database), with overrides."""
    settings = connection.settings_dict
    user = quote(settings.get("USER") or "", safe="")
    password = quote(str(settings.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = host or settings.get("HOST") or "127.0.0.1"
    port = port or settings.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(name or settings['NAME'], safe='')}"
