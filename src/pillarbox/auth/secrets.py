"""Secrets the server makes (session ids, API tokens, app passwords) and how they are kept: a SHA-256
hash. They carry 80+ random bits, so nobody can guess them and a slow hash would only slow logins."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> str:
    """256 random bits, URL-safe (a session id, a CSRF token)."""
    return secrets.token_urlsafe(32)


def same_secret(given: str, expected: str) -> bool:
    """Compare without leaking, through timing, how much of ``given`` was right."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))
