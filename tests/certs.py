"""Certificates for tests: a CA (root or intermediate) that issues server certificates, made with cryptography.

``CertAuthority()`` is a self-signed root; ``.intermediate()`` a CA it signs; ``.issue([names])`` a
server certificate (SAN DNS names, serverAuth) signed by it. Validity is given in days from now, so
expired certificates are one argument away.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Days = tuple[int, int]
"""(not before, not after) in days from now."""
VALID: Days = (-1, 30)
CA_KEY_USAGE = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                             encipher_only=False, decipher_only=False)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return der(self.cert)

    def write(self, directory: Path, label: str, chain: Sequence[x509.Certificate] = ()) -> tuple[Path, Path]:
        """(cert, key) PEM files; the cert file holds this certificate then ``chain``, as a server sends them."""
        cert_path, key_path = directory / f"{label}.crt", directory / f"{label}.key"
        cert_path.write_bytes(pem(self.cert, *chain))
        key_path.write_bytes(self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        return cert_path, key_path


class CertAuthority:
    def __init__(self, name: str = "Pillarbox Test CA", parent: CertAuthority | None = None,
                 valid: Days = VALID) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.parent = parent
        builder = (
            _builder(name, parent, self.key, valid)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(CA_KEY_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
        )
        self.cert = builder.sign(parent.key if parent else self.key, hashes.SHA256())

    @property
    def chain(self) -> list[x509.Certificate]:
        """This CA's certificate, then its issuers' up to the root."""
        return [self.cert, *(self.parent.chain if self.parent else [])]

    def intermediate(self, name: str = "Pillarbox Test Intermediate CA") -> CertAuthority:
        return CertAuthority(name, parent=self)

    def issue(self, names: list[str], valid: Days = VALID) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(names[0], self, key, valid)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return Issued(cert, key)


def _builder(name: str, issuer: CertAuthority | None, key: ec.EllipticCurvePrivateKey,
             valid: Days) -> x509.CertificateBuilder:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=valid[0]))
        .not_valid_after(now + datetime.timedelta(days=valid[1]))
    )
    if issuer is None:
        return builder
    return builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                                 critical=False)
