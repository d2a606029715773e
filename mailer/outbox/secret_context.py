"""Encryption of the secret part of an email's context (links carrying raw tokens).

The raw token must never sit in a table in plain text, yet the worker needs it to
render the link. It is stored as Fernet ciphertext (AES-128-CBC + HMAC-SHA256) under
a key derived from SECRET_KEY, and erased once the email reaches a final state
(the plain context stays, for the admin's email log).
SECRET_KEY_FALLBACKS keep rows written before a key rotation readable.
"""

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt"]


def _fernet_key(secret: str) -> bytes:
    digest = hashlib.sha256(b"electnepal.mailer.secret_context:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _cipher(secret_key: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(k)) for k in (secret_key, *fallbacks)])


def _current() -> MultiFernet:
    return _cipher(settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", ())))


def encrypt(data: dict) -> str:
    """Return the ciphertext of ``data`` (JSON), or "" for an empty dict."""
    if not data:
        return ""
    return _current().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict:
    """Inverse of encrypt(). Raises InvalidToken if the key no longer matches."""
    if not token:
        return {}
    return json.loads(_current().decrypt(token.encode()))
