"""TLS for every listener: the self-signed fallback certificate, the server context, and its reload.

Secure by default means TLS on every port even before an administrator has a real certificate, so on
first start we make a self-signed one and keep it. Mail clients that cannot use a public CA for it
(mbsync ``CertificateFile``, fetchmail ``sslcertfile``, ``openssl s_client -CAfile``) are told to trust
the certificate file itself; OpenSSL accepts a directly trusted certificate as its own trust anchor only
if it counts as *self-signed*, which needs subject == issuer, a matching key identifier, and either no
keyUsage extension or one that allows certificate signing. We therefore leave keyUsage out and mark the
certificate CA:FALSE with an extendedKeyUsage of serverAuth, which also passes OpenSSL's strict mode.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pillarbox.errors import ConfigError

CERT_NAME = "cert.pem"
KEY_NAME = "key.pem"
VALIDITY = datetime.timedelta(days=3650)
# Backdate a little so a client whose clock runs slow does not see a "not yet valid" certificate.
BACKDATE = datetime.timedelta(days=1)

# Mozilla "intermediate" TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are not
# configured here; OpenSSL's defaults for 1.3 are all good.
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS:!PSK:!SRP"


def ensure_certificate(data_dir: Path, hostname: str) -> tuple[Path, Path]:
    """Return ``(cert_path, key_path)`` under ``data_dir/tls``, generating them once if either is missing."""
    tls_dir = Path(data_dir) / "tls"
    cert_path, key_path = tls_dir / CERT_NAME, tls_dir / KEY_NAME
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_pem, key_pem = generate_self_signed(hostname)
    # Key first: a cert.pem on disk then always has its key beside it, even after a crash in between.
    write_atomic(key_path, key_pem, mode=0o600)
    write_atomic(cert_path, cert_pem, mode=0o644)
    return cert_path, key_path


def generate_self_signed(hostname: str) -> tuple[bytes, bytes]:
    """Make an ECDSA P-256 self-signed server certificate for ``hostname``; return ``(cert_pem, key_pem)``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_san_entries(hostname)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _san_entries(hostname: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(hostname)]
    if hostname.lower() != "localhost":
        names.append(x509.DNSName("localhost"))
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    names.append(x509.IPAddress(ipaddress.ip_address("::1")))
    return names


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file, fsync, rename, fsync the directory: the file is whole or absent."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_EXCL + mode at creation: the private key is never readable by others, not even for a moment.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def build_server_context(cert_path: Path | str, key_path: Path | str) -> ssl.SSLContext:
    """A server context: TLS 1.2+, AEAD/forward-secret ciphers, no compression, no renegotiation."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION
    # Client-initiated renegotiation is a cheap CPU-exhaustion lever for a peer; nothing needs it.
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    ctx.load_cert_chain(str(cert_path), str(key_path))
    return ctx


class TLSContextHolder:
    """Owns the current server context; ``reload()`` swaps it for new connections (e.g. on SIGHUP).

    Connections already established keep the context they were accepted with, so a reload never
    disturbs a session in progress. Listeners read ``.context`` at accept / STARTTLS time.
    """

    def __init__(self, cert_path: Path | str, key_path: Path | str) -> None:
        self.cert_path = Path(cert_path)
        self.key_path = Path(key_path)
        self._context = self._build()

    @property
    def context(self) -> ssl.SSLContext:
        return self._context

    def reload(self) -> None:
        """Re-read the files. On failure keep the old context and raise ``ConfigError`` (caller logs it)."""
        self._context = self._build()

    def use(self, cert_path: Path | str, key_path: Path | str) -> None:
        """Switch to other files (an ACME certificate replacing the self-signed one); as ``reload``, the
        old context stays when the new files do not load."""
        old = self.cert_path, self.key_path
        self.cert_path, self.key_path = Path(cert_path), Path(key_path)
        try:
            self.reload()
        except ConfigError:
            self.cert_path, self.key_path = old
            raise

    def _build(self) -> ssl.SSLContext:
        try:
            return build_server_context(self.cert_path, self.key_path)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(
                f"cannot load TLS certificate {self.cert_path} / key {self.key_path}: {exc}"
            ) from exc


def describe_tls(ssl_object: Any) -> dict[str, Any] | None:
    """Version and cipher of an established TLS session (``ssl.SSLObject`` or ``ssl.SSLSocket``).

    Returns ``{"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "bits": 256}``, or ``None``
    when there is no TLS session. Python exposes only the secret bits, so a Received: header shows
    them twice, as Postfix does when both numbers agree.
    """
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    if cipher is None:
        return None
    name, _protocol, bits = cipher
    return {"version": ssl_object.version(), "cipher": name, "bits": bits}


def format_tls(info: dict[str, Any] | None) -> str:
    """The Received: header clause: ``using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)``."""
    if not info:
        return ""
    bits = info["bits"]
    if bits is None:  # ended at a trusted load balancer (net/proxy.py), which names no key size
        return f"using {info['version']} with cipher {info['cipher']} at a load balancer"
    return f"using {info['version']} with cipher {info['cipher']} ({bits}/{bits} bits)"


def certificate_facts(cert_path: Path, now: datetime.datetime | None = None) -> dict[str, Any] | None:
    """Subject, expiry and days left of the certificate in ``cert_path`` (the dashboard's), or None."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return None
    not_after = cert.not_valid_after_utc
    left = not_after - (now or datetime.datetime.now(datetime.UTC))
    return {"subject": cert.subject.rfc4514_string(), "not_after": not_after.date().isoformat(),
            "days_left": left.days}
