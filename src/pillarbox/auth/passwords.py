"""Password hashing: argon2id for logins, SCRAM-SHA-256 keys for SASL SCRAM, both made at once.

Hashing costs tens of milliseconds of CPU on purpose, so the async entry points run it on a worker
thread, never on the event loop (principle 1). Tests and benchmarks that create many accounts may set
``PILLARBOX_CHEAP_HASHES=1`` to use the smallest argon2 parameters; the stored hash records its own
parameters, so verification of existing hashes is unaffected either way.
"""

from __future__ import annotations

import asyncio
import base64
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pillarbox.auth.sasl import SASLError, ScramCredentials, saslprep, scram_credentials_from_password
from pillarbox.errors import PillarboxError

SCRAM_ITERATIONS = 4096  # RFC 7677 5: at least 4096


def _hasher() -> PasswordHasher:
    if os.environ.get("PILLARBOX_CHEAP_HASHES") == "1":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's second recommendation


def _prepare(password: str) -> str:
    """SASLprep (RFC 4013), as SASL mechanisms prepare what clients send; raw when it cannot apply."""
    try:
        return saslprep(password)
    except SASLError:
        return password


def hash_password(password: str) -> str:
    return _hasher().hash(_prepare(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, _prepare(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class WeakPassword(PillarboxError):
    """A new password the policy refuses; the message says why, in one line."""


def check_password(password: str, address: str, min_length: int) -> None:
    """The password policy, for every path that sets a password (NIST SP 800-63B 5.1.1.2): at least
    ``min_length`` characters (code points, after SASLprep, as a login will compare them), and not
    the account's address or its local part, in any case. Raises WeakPassword."""
    prepared = _prepare(password)
    if len(prepared) < min_length:
        raise WeakPassword(f"password too short: at least {min_length} characters (accounts.password_min_length)")
    local = address.rpartition("@")[0]
    if prepared.casefold() in (address.casefold(), local.casefold()):
        raise WeakPassword("the password must not be the address itself")


def make_credentials(password: str) -> tuple[str, str]:
    """(argon2id hash, serialized SCRAM-SHA-256 credentials) for a new password."""
    scram = scram_credentials_from_password(password, os.urandom(16), SCRAM_ITERATIONS)
    return hash_password(password), serialize_scram(scram)


def serialize_scram(credentials: ScramCredentials) -> str:
    """``SCRAM-SHA-256$<iterations>$<salt>$<StoredKey>$<ServerKey>`` (base64 parts), as Dovecot stores it."""
    parts = (credentials.salt, credentials.stored_key, credentials.server_key)
    return "$".join(["SCRAM-SHA-256", str(credentials.iterations), *(base64.b64encode(p).decode() for p in parts)])


def parse_scram(text: str | None) -> ScramCredentials | None:
    if not text:
        return None
    try:
        scheme, iterations, salt, stored_key, server_key = text.split("$")
        if scheme != "SCRAM-SHA-256":
            return None
        return ScramCredentials(
            base64.b64decode(salt), int(iterations), base64.b64decode(stored_key), base64.b64decode(server_key)
        )
    except ValueError:
        return None


async def make_credentials_async(password: str) -> tuple[str, str]:
    return await asyncio.to_thread(make_credentials, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)
