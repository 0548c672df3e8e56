"""ACME as the server runs it: which certificate the listeners start with, and the pieces ``app.py``
wires when ``[acme] directory`` is set (the challenge board, the 443 listener's TLS, the manager)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from acme import client, errors
from pillarbox.acme import orders
from pillarbox.acme.challenges import ChallengeBoard, WebTLS
from pillarbox.acme.files import ACME_DIR, CertFiles, existing_cert_files
from pillarbox.acme.manager import ACMEManager, Wanted
from pillarbox.config import Config
from pillarbox.net.tls import TLSContextHolder, ensure_certificate


@dataclass(frozen=True)
class CertificateSource:
    cert: Path
    key: Path
    description: str  # for the start-up line: "file PATH", "ACME PATH", "self-signed at PATH sha256 ..."


def current_certificate(config: Config) -> CertificateSource:
    """The configured files; else the host name's ACME certificate once issued; else the self-signed one
    (made on first start), which serves until the first issuance."""
    if config.tls.cert is not None and config.tls.key is not None:
        return CertificateSource(config.tls.cert, config.tls.key, f"file {config.tls.cert}")
    issued = existing_cert_files(config.data_dir, config.hostname) if config.acme.directory else None
    if issued is not None:
        return CertificateSource(issued.cert, issued.key, f"ACME {issued.cert} from {config.acme.directory}")
    cert, key = ensure_certificate(config.data_dir, config.hostname)
    waiting = f" until ACME ({config.acme.directory}) issues one" if config.acme.directory else ""
    return CertificateSource(cert, key, f"self-signed at {cert} sha256 {fingerprint(cert)}{waiting}")


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the DER certificate, as ``openssl x509 -fingerprint -sha256`` shows it."""
    try:
        leaf = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return "(unreadable)"
    digest = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def challenge_kind(config: Config) -> str:
    """TLS-ALPN-01 where 443 is ours, else HTTP-01 (the configuration has one of them, ``config.py``)."""
    return orders.TLS_ALPN01 if config.listen.https else orders.HTTP01


class _Account:
    """The connection to the CA, made on first use in the ordering thread and made again after a failure."""

    def __init__(self, settings: orders.AccountSettings, board: ChallengeBoard, kind: str) -> None:
        self._settings, self._board, self._kind = settings, board, kind
        self._client: client.ClientV2 | None = None
        self._lock = threading.Lock()

    def _connected(self) -> client.ClientV2:
        with self._lock:
            if self._client is None:
                try:
                    self._client = orders.connect(self._settings)
                except (errors.Error, OSError, ValueError) as exc:
                    raise orders.OrderFailed(f"cannot use the ACME account at {self._settings.directory}: "
                                             f"{' '.join(str(exc).split())[:300]}") from None
            return self._client

    def issue(self, certificate: Wanted) -> orders.Issued:
        try:
            return orders.order(self._connected(), list(certificate.names), self._board, self._kind)
        except orders.OrderFailed:
            self._client = None  # a fresh nonce, directory and session next time
            raise

    def advice(self, fullchain_pem: bytes) -> float | None:
        try:
            suggested = orders.renewal_window(self._connected(), fullchain_pem)
        except orders.OrderFailed:
            return None
        return suggested.timestamp() if suggested is not None else None


@dataclass
class ACME:
    board: ChallengeBoard
    manager: ACMEManager
    web_tls: WebTLS


def build_acme(config: Config, main_tls: TLSContextHolder, domains: Callable[[], Awaitable[list[str]]],
               on_issued: Callable[[Wanted, CertFiles], None], clock: Callable[[], float] = time.time) -> ACME:
    board = ChallengeBoard()
    settings = orders.AccountSettings(config.acme.directory, config.acme.email, config.acme.ca_file,
                                      config.data_dir / ACME_DIR / "account.json")
    account = _Account(settings, board, challenge_kind(config))
    manager = ACMEManager(config.data_dir, config.acme.directory, config.hostname, domains, account.issue,
                          account.advice, on_issued, clock)

    def domain_certificate(domain: str) -> tuple[Path, Path] | None:
        files = existing_cert_files(config.data_dir, domain)
        return (files.cert, files.key) if files is not None else None

    return ACME(board, manager, WebTLS(main_tls, board, domain_certificate))
