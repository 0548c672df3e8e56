"""SASL server mechanisms as sans-IO exchanges: PLAIN, LOGIN and SCRAM-SHA-256.

The problem: SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH all run the same SASL exchanges (RFC 4422)
with different framing. Here each mechanism is an object that takes decoded response bytes and
returns the next ``Step``: a ``Challenge`` to send, ``NeedCredentials`` (SCRAM: the caller looks
the user up and calls ``supply_credentials``) or ``Done``. The mechanisms never see the user store:
PLAIN and LOGIN hand back (username, password) for the caller to verify against its argon2 hash
(``Done.verified`` is False); SCRAM verifies the client proof itself against ``ScramCredentials``
kept by the account store (``Done.verified`` is True).

Base64 belongs to the protocols' framing (RFC 4954 4, RFC 9051 6.2.2), but every one needs the same
strict decoder, so ``decode_response`` / ``encode_challenge`` live here. Malformed input raises
``SASLError`` (SMTP: 501, IMAP: BAD); a wrong password or proof raises ``AuthenticationFailed``
(SMTP: 535 5.7.8, IMAP: NO [AUTHENTICATIONFAILED]).

User names and passwords are prepared with SASLprep (RFC 4013) as queries (unassigned code points
allowed); the account store must prepare passwords the same way when it sets them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

SCRAM_MIN_ITERATIONS = 4096  # RFC 7677 3: "SHOULD be at least 4096"
_MAX_FIELD = 1024  # octets of one identity or password; RFC 4616 2 requires at least 255


class SASLError(Exception):
    """The client's SASL data is malformed or the exchange is misused; ``reason`` is for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthenticationFailed(SASLError):
    """Well-formed, but the credentials or the requested authorization identity are refused."""


@dataclass(frozen=True)
class Challenge:
    """Send ``data`` (base64-encoded by the protocol) and feed the reply to ``step``."""

    data: bytes


@dataclass(frozen=True)
class NeedCredentials:
    """SCRAM: look ``username`` up and call ``supply_credentials`` (None if there is no such user)."""

    username: str


@dataclass(frozen=True)
class Done:
    """The exchange is over. ``verified`` False: the caller must check ``password`` for ``authcid``.

    ``additional_data`` (SCRAM's server-final message) goes to the client with the success: in SMTP
    as one more 334 challenge whose (empty) answer precedes the 235 (RFC 4954 4).
    """

    authcid: str
    authzid: str
    password: str | None
    verified: bool
    additional_data: bytes | None = None


Step = Challenge | NeedCredentials | Done


class Mechanism(Protocol):
    name: str

    def start(self, initial_response: bytes | None) -> Step: ...

    def step(self, response: bytes) -> Step: ...


# -- base64 -----------------------------------------------------------------------------------------


def decode_response(text: bytes, *, initial: bool = False) -> bytes:
    """Strict base64 (RFC 4648 4); an initial response of "=" is the empty string (RFC 4954 4)."""
    text = text.strip()
    if initial and text == b"=":
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SASLError("invalid base64") from None


def encode_challenge(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- SASLprep (RFC 4013) ----------------------------------------------------------------------------

_PROHIBITED = (  # RFC 4013 2.3
    stringprep.in_table_c12,
    stringprep.in_table_c21_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
)


def saslprep(text: str, *, allow_unassigned: bool = True) -> str:
    """The SASLprep profile of stringprep (RFC 4013 2): map, NFKC, prohibit, bidi; "query" by default."""
    # 2.1 Mapping: non-ASCII space (C.1.2) to SPACE; "commonly mapped to nothing" (B.1) to nothing
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c))
    prepared = unicodedata.normalize("NFKC", mapped)  # 2.2 Normalization
    for char in prepared:
        if any(table(char) for table in _PROHIBITED):
            raise SASLError(f"prohibited character U+{ord(char):04X}")
        if not allow_unassigned and stringprep.in_table_a1(char):  # 2.5 Unassigned Code Points
            raise SASLError(f"unassigned code point U+{ord(char):04X}")
    _check_bidi(prepared)
    return prepared


def _check_bidi(text: str) -> None:
    """RFC 3454 6: with any RandALCat character, no LCat, and RandALCat first and last (RFC 4013 2.4)."""
    if not any(stringprep.in_table_d1(c) for c in text):
        return
    if any(stringprep.in_table_d2(c) for c in text):
        raise SASLError("mixed bidirectional text")
    if not (stringprep.in_table_d1(text[0]) and stringprep.in_table_d1(text[-1])):
        raise SASLError("bidirectional text must start and end with RandALCat")


def _utf8_field(raw: bytes, what: str) -> str:
    if len(raw) > _MAX_FIELD:
        raise SASLError(f"{what} too long")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SASLError(f"{what} is not UTF-8") from None
    if "\0" in text:
        raise SASLError(f"NUL in {what}")
    return saslprep(text)


def _check_authzid(authzid: str, authcid: str) -> None:
    """We allow no proxy authorization: authzid must be empty or the authcid itself."""
    if authzid and authzid != authcid:
        raise AuthenticationFailed("not authorized to requested authorization identity")


class _Finished:
    """Base for mechanisms: ``step`` after ``Done`` is a misuse."""

    def _complete(self) -> None:
        raise SASLError("exchange already complete")


# -- PLAIN (RFC 4616) -------------------------------------------------------------------------------


class Plain(_Finished):
    """message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 2)."""

    name = "PLAIN"

    def __init__(self) -> None:
        self._done = False

    def start(self, initial_response: bytes | None) -> Step:
        if initial_response is None:
            return Challenge(b"")  # empty challenge, the client sends the message (RFC 4616 2)
        return self.step(initial_response)

    def step(self, response: bytes) -> Step:
        if self._done:
            self._complete()
        parts = response.split(b"\0")
        if len(parts) != 3:
            raise SASLError("PLAIN message must have exactly two NUL separators")
        authzid, authcid, passwd = (
            _utf8_field(p, w) for p, w in zip(parts, ("authzid", "authcid", "passwd"), strict=True)
        )
        if not authcid or not passwd:
            raise SASLError("empty authcid or passwd")
        _check_authzid(authzid, authcid)
        self._done = True
        return Done(authcid, authzid, passwd, verified=False)


# -- LOGIN (draft-murchison-sasl-login-00) -----------------------------------------------------------


class Login(_Finished):
    """Challenges "Username:" and "Password:" (2.2: the widely deployed variant); authzid = authcid."""

    name = "LOGIN"
    USERNAME = b"Username:"
    PASSWORD = b"Password:"

    def __init__(self) -> None:
        self._username: str | None = None
        self._done = False

    def start(self, initial_response: bytes | None) -> Step:
        if initial_response is None:
            return Challenge(self.USERNAME)
        return self.step(initial_response)  # some clients send the user name as initial response

    def step(self, response: bytes) -> Step:
        if self._done:
            self._complete()
        if self._username is None:
            self._username = _utf8_field(response, "username")
            if not self._username:
                raise SASLError("empty username")
            return Challenge(self.PASSWORD)
        password = _utf8_field(response, "password")
        if not password:
            raise SASLError("empty password")
        self._done = True
        return Done(self._username, "", password, verified=False)


# -- SCRAM-SHA-256 (RFC 5802, RFC 7677) ---------------------------------------------------------------


@dataclass(frozen=True)
class ScramCredentials:
    """What the account store keeps for SCRAM (RFC 5802 3): never the password itself."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def scram_credentials_from_password(
    password: str, salt: bytes | None = None, iterations: int = SCRAM_MIN_ITERATIONS
) -> ScramCredentials:
    """SaltedPassword := Hi(Normalize(password), salt, i); StoredKey := H(ClientKey) (RFC 5802 3)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password).encode("utf-8"), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return ScramCredentials(salt, iterations, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"))


def fake_scram_credentials(secret: bytes, username: str, iterations: int) -> ScramCredentials:
    """Credentials for a user that does not exist, which no proof matches. The salt must be the same
    at every try, or a changing salt would tell the user does not exist (RFC 5802 7 lets the server
    hide "unknown-user" "to prevent information disclosure"); it is derived from a server secret that
    survives restarts and is shared by every process and node, and ``iterations`` is what real
    accounts get."""
    salt = _hmac(secret, b"scram-sha-256 fake salt\0" + username.encode("utf-8"))[:16]
    return ScramCredentials(salt, iterations, secrets.token_bytes(32), secrets.token_bytes(32))


def _saslname(value: str) -> str:
    """saslname = 1*(value-safe-char / "=2C" / "=3D") (RFC 5802 7)."""
    parts = value.split("=")
    for part in parts[1:]:
        if part[:2] not in ("2C", "3D"):
            raise SASLError("bad '=' escape in saslname")
    return value.replace("=2C", ",").replace("=3D", "=")


def _attribute(field: str, name: str) -> str:
    if not field.startswith(name + "="):
        raise SASLError(f"expected attribute {name!r}")
    return field[len(name) + 1 :]


def _default_nonce() -> str:
    return secrets.token_urlsafe(24)  # printable, no "," (RFC 5802 7: nonce)


class ScramSha256(_Finished):
    """Server side of SCRAM-SHA-256 without channel binding (RFC 5802 5, RFC 7677)."""

    name = "SCRAM-SHA-256"

    def __init__(self, nonce_factory: Callable[[], str] = _default_nonce) -> None:
        self._nonce_factory = nonce_factory
        self._phase = "first"  # first -> credentials -> final -> done
        self._gs2_header = self._client_first_bare = self._server_first = self._nonce = ""
        self._username = self._authzid = ""
        self._credentials: ScramCredentials | None = None

    def start(self, initial_response: bytes | None) -> Step:
        if initial_response is None or initial_response == b"":
            return Challenge(b"")
        return self.step(initial_response)

    def step(self, response: bytes) -> Step:
        text = _ascii_or_utf8(response)
        if self._phase == "first":
            return self._client_first(text)
        if self._phase == "final":
            return self._client_final(text)
        if self._phase == "done":
            self._complete()
        raise SASLError("credentials not supplied yet")

    def _client_first(self, text: str) -> Step:
        """client-first-message = gs2-header client-first-message-bare ;
        gs2-header = gs2-cbind-flag "," [ authzid ] "," ; gs2-cbind-flag = ("p=" cb-name) / "n" / "y" """
        fields = text.split(",")
        if len(fields) < 4:
            raise SASLError("malformed client-first-message")
        flag, authzid = fields[0], fields[1]
        if flag.startswith("p="):
            raise SASLError("channel binding not supported")
        if flag not in ("n", "y"):  # 'y': client supports CB but thinks we don't; we don't (5.1)
            raise SASLError("bad gs2-cbind-flag")
        self._authzid = saslprep(_saslname(_attribute(authzid, "a"))) if authzid else ""
        self._gs2_header = f"{flag},{authzid},"
        self._client_first_bare = ",".join(fields[2:])
        self._parse_client_first_bare(fields[2:])
        self._phase = "credentials"
        return NeedCredentials(self._username)

    def _parse_client_first_bare(self, fields: list[str]) -> None:
        """client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]"""
        if fields[0].startswith("m="):
            raise SASLError("mandatory extension not supported")  # RFC 5802 5.1: MUST fail
        self._username = saslprep(_saslname(_attribute(fields[0], "n")))
        client_nonce = _attribute(fields[1], "r")
        if not self._username or not client_nonce:
            raise SASLError("empty username or nonce")
        _check_authzid(self._authzid, self._username)
        self._nonce = client_nonce + self._nonce_factory()

    def supply_credentials(self, credentials: ScramCredentials) -> Step:
        """The stored credentials of the user. For an unknown user the caller supplies made-up ones
        (``fake_scram_credentials``): the exchange then runs to the end and fails, like a wrong password."""
        if self._phase != "credentials":
            raise SASLError("credentials not expected now")
        self._credentials = credentials
        salt = base64.b64encode(self._credentials.salt).decode("ascii")
        # server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
        self._server_first = f"r={self._nonce},s={salt},i={self._credentials.iterations}"
        self._phase = "final"
        return Challenge(self._server_first.encode("ascii"))

    def _client_final(self, text: str) -> Step:
        """client-final-message = client-final-message-without-proof "," proof ;
        client-final-message-without-proof = channel-binding "," nonce ["," extensions]"""
        without_proof, _, proof_field = text.rpartition(",")
        fields = without_proof.split(",")
        if len(fields) < 2:
            raise SASLError("malformed client-final-message")
        if _b64(_attribute(fields[0], "c")) != self._gs2_header.encode("utf-8"):
            raise SASLError("channel binding data does not match gs2-header")
        if _attribute(fields[1], "r") != self._nonce:
            raise SASLError("nonce mismatch")
        proof = _b64(_attribute(proof_field, "p"))
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        return self._verify(proof, auth_message)

    def _verify(self, proof: bytes, auth_message: bytes) -> Step:
        """ClientKey := ClientProof XOR ClientSignature; then H(ClientKey) must equal StoredKey."""
        assert self._credentials is not None
        self._phase = "done"
        signature = _hmac(self._credentials.stored_key, auth_message)
        if len(proof) != len(signature):
            raise AuthenticationFailed("invalid proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self._credentials.stored_key):
            raise AuthenticationFailed("invalid proof")
        verifier = base64.b64encode(_hmac(self._credentials.server_key, auth_message)).decode("ascii")
        return Done(self._username, self._authzid, None, verified=True, additional_data=f"v={verifier}".encode())


def _ascii_or_utf8(response: bytes) -> str:
    try:
        return response.decode("utf-8")
    except UnicodeDecodeError:
        raise SASLError("SCRAM message is not UTF-8") from None


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SASLError("invalid base64 in SCRAM attribute") from None


# -- registry ------------------------------------------------------------------------------------------

MECHANISMS: dict[str, Callable[[], Mechanism]] = {
    "SCRAM-SHA-256": ScramSha256,
    "PLAIN": Plain,
    "LOGIN": Login,
}


def mechanisms_for(tls: bool) -> tuple[str, ...]:
    """Names to advertise. Principle 8: authentication only over TLS, so none without it."""
    return tuple(MECHANISMS) if tls else ()


def create(name: str) -> Mechanism | None:
    """A fresh exchange for ``name`` (case-insensitive), or None if we do not implement it."""
    factory = MECHANISMS.get(name.upper())
    return factory() if factory else None
