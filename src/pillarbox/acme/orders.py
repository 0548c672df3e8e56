"""The ACME protocol itself (RFC 8555), through certbot's ``acme`` library: blocking, so every call
here runs in a thread (``manager.py`` uses ``asyncio.to_thread``), never on the event loop.

An order: register (or find) the account; post a new order with a CSR for the names; for each
authorization still pending, put the answer on the ``ChallengeBoard`` and tell the CA to validate
(TLS-ALPN-01 when the 443 listener runs, else HTTP-01); poll until the order is valid and download
the full chain. The library signs the JWS and handles nonces; it no longer knows TLS-ALPN-01 (RFC
8737), so its challenge is read from the raw JSON and answered with the empty object RFC 8555 7.5.1
asks for. Renewal information (RFC 9773) comes from the library's ``renewal_time`` when the directory
offers ``renewalInfo``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import josepy as jose
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from acme import challenges, client, crypto_util, errors, messages
from pillarbox.acme.challenges import ChallengeBoard
from pillarbox.acme.files import load_json, save_json

USER_AGENT = "pillarbox"
ORDER_TIMEOUT = datetime.timedelta(seconds=90)
NETWORK_TIMEOUT = 30
HTTP01, TLS_ALPN01 = "http-01", "tls-alpn-01"


class OrderFailed(Exception):
    """An order that did not end in a certificate; the message is one line for the log and status."""


@dataclass(frozen=True)
class Issued:
    fullchain_pem: bytes
    key_pem: bytes


class _Empty(jose.JSONDeSerializable):
    """The payload that asks the CA to validate a challenge (RFC 8555 7.5.1): ``{}``."""

    def to_partial_json(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, jobj: Any) -> _Empty:
        return cls()


@dataclass(frozen=True)
class AccountSettings:
    directory: str
    email: str
    ca_file: Path | None
    account_file: Path


def connect(settings: AccountSettings) -> client.ClientV2:
    """A client logged in to the account of ``settings.directory`` (registered on first use)."""
    saved = load_json(settings.account_file)
    key = _account_key(saved, settings)
    verify: Any = str(settings.ca_file) if settings.ca_file else True  # requests: a CA bundle's path, or True
    net = client.ClientNetwork(key, alg=jose.ES256, verify_ssl=verify, user_agent=USER_AGENT,
                               timeout=NETWORK_TIMEOUT)
    directory = client.ClientV2.get_directory(settings.directory, net)
    acme = client.ClientV2(directory, net)
    registered = saved.get("accounts", {}).get(settings.directory)
    if registered:
        net.account = messages.RegistrationResource.json_loads(registered)
        return acme
    contact = (f"mailto:{settings.email}",) if settings.email else ()
    try:
        account = acme.new_account(messages.NewRegistration(contact=contact, terms_of_service_agreed=True))
    except errors.ConflictError as exc:  # the key is known there already (a lost account file)
        account = messages.RegistrationResource(uri=exc.location, body=messages.Registration())
        net.account = account
    saved.setdefault("accounts", {})[settings.directory] = account.json_dumps()
    save_json(settings.account_file, saved)
    return acme


def _account_key(saved: dict[str, Any], settings: AccountSettings) -> jose.JWK:
    if "key" in saved:
        return jose.JWK.from_json(saved["key"])
    key = jose.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    saved["key"] = key.to_json()
    save_json(settings.account_file, saved)
    return key


def order(acme: client.ClientV2, names: list[str], board: ChallengeBoard, kind: str) -> Issued:
    """Order one certificate for ``names`` proving control with challenges of ``kind``."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        placed = acme.new_order(crypto_util.make_csr(key_pem, names))
        with _answering(acme, placed, board, kind):
            done = acme.poll_and_finalize(placed, datetime.datetime.now() + ORDER_TIMEOUT)
    except errors.ValidationError as exc:
        raise OrderFailed(_validation_problem(exc)) from None
    except (errors.Error, messages.Error) as exc:
        raise OrderFailed(_one_line(f"{type(exc).__name__}: {exc}")) from None
    except OSError as exc:  # requests' connection errors are OSErrors
        raise OrderFailed(_one_line(f"cannot reach the ACME server: {exc}")) from None
    return Issued(done.fullchain_pem.encode("ascii"), key_pem)


@contextmanager
def _answering(acme: client.ClientV2, placed: messages.OrderResource, board: ChallengeBoard,
               kind: str) -> Iterator[None]:
    posted: list[tuple[str, str]] = []
    try:
        for authz in placed.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue
            name = authz.body.identifier.value
            challenge = _challenge_of(authz, kind)
            token = challenge.chall.jobj["token"] if kind == TLS_ALPN01 else challenge.chall.encode("token")
            key_authorization = f"{token}.{_thumbprint(acme)}"
            if kind == TLS_ALPN01:
                board.add_tls_alpn01(name, key_authorization)
            else:
                board.add_http01(token, key_authorization)
            posted.append((token, name))
            acme.answer_challenge(challenge, _Empty())
        yield
    finally:
        for token, name in posted:
            board.remove(token, name)


def _challenge_of(authz: messages.AuthorizationResource, kind: str) -> messages.ChallengeBody:
    for challenge in authz.body.challenges:
        typ = challenge.chall.typ if not isinstance(challenge.chall, challenges.UnrecognizedChallenge) \
            else challenge.chall.jobj.get("type")
        if typ == kind:
            return challenge
    raise OrderFailed(f"the CA offers no {kind} challenge for {authz.body.identifier.value}")


def _thumbprint(acme: client.ClientV2) -> str:
    assert acme.net.key is not None
    return jose.b64encode(acme.net.key.public_key().thumbprint()).decode("ascii")


def renewal_window(acme: client.ClientV2, fullchain_pem: bytes) -> datetime.datetime | None:
    """When the CA suggests renewing this certificate (RFC 9773), or None when it offers no advice."""
    try:
        suggested, _next_check = acme.renewal_time(fullchain_pem)
    except errors.ARIError:
        return None
    if suggested is not None and suggested.tzinfo is None:
        suggested = suggested.replace(tzinfo=datetime.UTC)
    return suggested


def _validation_problem(exc: errors.ValidationError) -> str:
    for authz in exc.failed_authzrs:
        for challenge in authz.body.challenges:
            if challenge.error is not None:
                return _one_line(f"validation of {authz.body.identifier.value} failed: {challenge.error}")
    return "validation failed"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:400]
