"""Recently verified passwords, so a client that logs in often pays for argon2id once per ``ttl``.

Mail clients open many connections (one per folder, a new one at every poll), each with a login.
Like Dovecot's auth cache, a successful check is remembered for a short while and the next login
with the same password compares a keyed hash instead of running argon2id again. What it must never do:

- **let a guesser skip the throttle**: it is asked only after the throttle let the attempt through,
  and only remembers successes, so a wrong guess always costs the full check and its delay;
- **keep a password after it changed**: each entry is HMAC(key, user, password, *the stored hash*),
  and the stored hash is read from the store at every login, so a new password (set by any process
  or node) or a hash upgrade makes every older entry miss, with no message between processes;
- **grow without bound**: one entry per account (a new success replaces the old one), at most
  ``size`` of them, the least recently used dropped first, each valid ``ttl`` seconds after its check
  (not refreshed by use);
- **hold a password**: only HMAC-SHA-256 digests under a random key made by this process and never
  stored anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from pillarbox.store.records import Credentials


class LoginCache:
    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def _digest(self, credentials: Credentials, password: str) -> bytes:
        parts = [part.encode("utf-8", "surrogatepass") for part in
                 (credentials.address, password, credentials.password_hash)]
        message = b"".join(len(part).to_bytes(4, "big") + part for part in parts)  # unambiguous framing
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def verified(self, credentials: Credentials, password: str) -> bool:
        entry = self._entries.get(credentials.address)
        if entry is None:
            return False
        digest, expires = entry
        if self._clock() >= expires:
            del self._entries[credentials.address]
            return False
        self._entries.move_to_end(credentials.address)
        return hmac.compare_digest(digest, self._digest(credentials, password))

    def remember(self, credentials: Credentials, password: str) -> None:
        if self.ttl <= 0 or self.size <= 0:
            return
        self._entries[credentials.address] = (self._digest(credentials, password), self._clock() + self.ttl)
        self._entries.move_to_end(credentials.address)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
