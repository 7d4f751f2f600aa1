"""API keys: made here, shown once, stored as a sha256 hash with a short plain prefix to find the row.

A key reads ``pai_<prefix><secret>``: PREFIX_CHARS characters that are stored plain (lookup, and to tell
keys apart in `piano-ai keys list`) and the rest, which only its hash remembers. The whole key carries
KEY_BYTES of randomness; a leaked database gives hashes of 256-bit random strings, which cannot be reversed.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from piano_ai.db.models import ApiKey, utcnow

KEY_PREFIX = "pai_"  # marks a piano-ai key (secret scanners, people reading a config)
KEY_BYTES = 32  # randomness per key, bytes
PREFIX_CHARS = 8  # characters after KEY_PREFIX kept plain
LAST_USED_RESOLUTION_S = 60  # last_used_at is written at most this often per key, seconds


class KeyNameTakenError(ValueError):
    """A key with this name exists (revoked keys keep their names)."""


def hash_key(key: str) -> str:
    """The stored form of a key: sha256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def _lookup_prefix(key: str) -> str | None:
    if not key.startswith(KEY_PREFIX) or len(key) <= len(KEY_PREFIX) + PREFIX_CHARS:
        return None
    return key[len(KEY_PREFIX) : len(KEY_PREFIX) + PREFIX_CHARS]


def create_key(session: Session, name: str, admin: bool = False) -> tuple[ApiKey, str]:
    """Store a new key named ``name``; returns (row, the key): the key is never available again."""
    if session.scalars(select(ApiKey.id).where(ApiKey.name == name)).first() is not None:
        raise KeyNameTakenError(f"a key named {name!r} exists; choose another name")
    for _ in range(5):  # a prefix collision is a one-in-2**48 event; try again with a new key
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        prefix = _lookup_prefix(key)
        assert prefix is not None
        row = ApiKey(name=name, prefix=prefix, secret_hash=hash_key(key), admin=admin, created_at=utcnow())
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            if session.scalars(select(ApiKey.id).where(ApiKey.name == name)).first() is not None:
                raise KeyNameTakenError(f"a key named {name!r} exists; choose another name") from None
            continue
        return row, key
    raise RuntimeError("could not pick a unique key prefix")


def authenticate(session: Session, key: str) -> ApiKey | None:
    """The live (not revoked) key row for ``key``, or None; records when it was used (to the minute)."""
    prefix = _lookup_prefix(key)
    if prefix is None:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, hash_key(key)):
        return None
    now = utcnow()
    stale = now - timedelta(seconds=LAST_USED_RESOLUTION_S)
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == row.id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < stale))
        .values(last_used_at=now)
    )
    session.commit()
    return row


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones too, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke(session: Session, name: str) -> bool:
    """Revoke the key named ``name`` (or whose prefix is ``name``); False when no live key matches."""
    result = session.execute(
        update(ApiKey)
        .where(or_(ApiKey.name == name, ApiKey.prefix == name), ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]
