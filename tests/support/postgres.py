"""A PostgreSQL cluster that asks for a password (scram-sha-256), as stock Debian, Fedora and Homebrew do on TCP.

The suite's own server trusts every local connection, so a client that forgot the
password would pass there; this one refuses it.
"""

import tempfile
from pathlib import Path
from urllib.parse import quote

from bench.services import PrivatePostgres, _pg_bin


class PasswordPostgres(PrivatePostgres):
    """``PrivatePostgres`` with password authentication for every connection, and a user of the test's choosing."""

    def __init__(self, *, user: str, password: str):
        super().__init__()
        self.user, self.password = user, password

    def url(self, db: str, host: str | None = None, *, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgres://{self.user}:{quote(secret, safe='')}@{host or self.hosts[0]}:{self.port}/{db}"

    def _initdb(self) -> None:
        with tempfile.NamedTemporaryFile("w", dir=self._dir, delete=False) as pwfile:
            pwfile.write(self.password)
        Path(pwfile.name).chmod(0o644)  # read by initdb, which may run as the postgres user
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self._data),
            "-U",
            self.user,
            f"--pwfile={pwfile.name}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )
        Path(pwfile.name).unlink()
