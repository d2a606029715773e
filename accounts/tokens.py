"""One-time tokens for emailed links.

A token is a UUIDv4 (122 random bits from os.urandom), which is also what the
``<uuid:token>`` URL converters accept. Only ``token_hash(token)`` is stored.
"""

import hashlib
import uuid


def new_token() -> uuid.UUID:
    """A fresh one-time token: a random UUIDv4 (122 random bits). Store only ``token_hash`` of it."""
    return uuid.uuid4()


def token_hash(token: uuid.UUID | str) -> str:
    """SHA-256 hex digest of the token's canonical text (lower-case, with dashes)."""
    return hashlib.sha256(str(uuid.UUID(str(token))).encode()).hexdigest()
