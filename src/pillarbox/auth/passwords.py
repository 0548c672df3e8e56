"""Password hashing: argon2id for logins, SCRAM-SHA-256 keys for SASL SCRAM, both made at once.

The parameters are a choice between what an attacker with a stolen database pays per guess and what
the server pays per login, which it must answer in tens of milliseconds:

- argon2id, m = 19 MiB, t = 2, p = 1: OWASP's first recommendation (Password Storage Cheat Sheet),
  about 22 ms of one core here. RFC 9106 4 asks to choose the memory first, then the passes that fit
  the time budget; its second option (64 MiB, t = 3, p = 4, argon2-cffi's default) cost 170 ms of CPU
  per login here, which is what made a login-heavy load slow.
- SCRAM-SHA-256, 600,000 iterations. RFC 7677 4: at least 4,096, but "the hash iteration-count should be
  such that a modern machine will take 0.1 seconds" (600,000 take 0.145 s on this server). The SCRAM
  keys sit in the same row as the argon2 hash, so a stolen database is as weak as the weaker of the
  two: OWASP rates PBKDF2-HMAC-SHA256 at 600,000 as the equal of argon2id at 19 MiB / t = 2. The
  client pays this once per SCRAM login (the server only when a password is set); a site of slow
  phones may lower ``auth.scram_iterations``.

Existing hashes keep working with the parameters they record, and are remade with the current ones
when their owner next logs in with a plaintext mechanism (``needs_upgrade``): the SCRAM keys can only
be remade from the password itself (RFC 5802 9).

Hashing runs on a pool of its own, one thread per core, never on the event loop (principle 1): many
logins at once queue there instead of taking every thread (and 19 MiB each) of the loop's default
executor. Tests and benchmarks that create many accounts may set ``PILLARBOX_CHEAP_HASHES=1`` for the
smallest parameters (``effective``).
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pillarbox.auth.sasl import SASLError, ScramCredentials, saslprep, scram_credentials_from_password
from pillarbox.config import AuthConfig
from pillarbox.errors import PillarboxError

T = TypeVar("T")


@dataclass(frozen=True)
class HashParameters:
    argon2_memory_kib: int = 19 * 1024
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    scram_iterations: int = 600_000


def hash_parameters(config: AuthConfig) -> HashParameters:
    """The configured parameters (``[auth]``), or the cheapest under ``PILLARBOX_CHEAP_HASHES=1``."""
    return effective(HashParameters(config.argon2_memory // 1024, config.argon2_time_cost,
                                    config.argon2_parallelism, config.scram_iterations))


CHEAP = HashParameters(argon2_memory_kib=8, argon2_time_cost=1, argon2_parallelism=1, scram_iterations=4096)


def effective(configured: HashParameters) -> HashParameters:
    """``configured``, or the cheapest parameters when ``PILLARBOX_CHEAP_HASHES=1`` (tests, benchmarks)."""
    return CHEAP if os.environ.get("PILLARBOX_CHEAP_HASHES") == "1" else configured


def _prepare(password: str) -> str:
    """SASLprep (RFC 4013), as SASL mechanisms prepare what clients send; raw when it cannot apply."""
    try:
        return saslprep(password)
    except SASLError:
        return password


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


class PasswordHashing:
    """Makes and checks credentials with one set of parameters."""

    def __init__(self, parameters: HashParameters, threads: int | None = None) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.argon2_time_cost, memory_cost=parameters.argon2_memory_kib,
            parallelism=parameters.argon2_parallelism, type=Type.ID)
        self._pool: ThreadPoolExecutor | None = None
        self._threads = threads or os.cpu_count() or 1
        self._dummy_hash: str | None = None

    def make_credentials(self, password: str) -> tuple[str, str]:
        """(argon2id hash, serialized SCRAM-SHA-256 credentials) for a new password."""
        scram = scram_credentials_from_password(password, secrets.token_bytes(16), self.parameters.scram_iterations)
        return self._hasher.hash(_prepare(password)), serialize_scram(scram)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Check ``password``; with no hash (an unknown user) the same work is done against a hash of a
        random password, so the answer takes as long as for a real user (no user enumeration by time)."""
        if password_hash is None:
            self._verify(self._dummy(), password)
            return False
        return self._verify(password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, _prepare(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))
        return self._dummy_hash

    def needs_upgrade(self, password_hash: str, scram_sha256: str | None) -> bool:
        """Hashes made with other parameters than ours, or SCRAM keys weaker than ours (or none)."""
        scram = parse_scram(scram_sha256)
        if scram is None or scram.iterations < self.parameters.scram_iterations:
            return True
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def run(self, fn: partial[T]) -> T:
        """``fn`` on the hashing threads."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="pillarbox-hash")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def start(self) -> None:
        """Make the dummy hash now, so the first unknown user does not answer later than the others."""
        await self.run(partial(self._dummy))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


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


def verify_password(password_hash: str, password: str) -> bool:
    """Check a password against any argon2 hash (its own parameters); for tools and tests."""
    return PasswordHashing(CHEAP)._verify(password_hash, password)


def make_credentials(password: str, parameters: HashParameters | None = None) -> tuple[str, str]:
    """Credentials with ``parameters`` (the defaults when None, the cheapest in tests)."""
    return PasswordHashing(effective(parameters or HashParameters())).make_credentials(password)


async def make_credentials_async(password: str, parameters: HashParameters | None = None) -> tuple[str, str]:
    return await asyncio.to_thread(make_credentials, password, parameters)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(verify_password, password_hash, password)
