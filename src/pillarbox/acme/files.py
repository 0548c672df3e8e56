"""Where ACME keeps its state: ``data_dir/acme`` (0700), every file in it 0600.

- ``account.json``: the account key (JWK) and the account's URL at the CA, per directory URL (a
  change of CA registers a new account instead of presenting a key the new CA has never seen);
- ``certs/NAME.pem`` and ``certs/NAME.key``: the full chain and private key of one certificate, where
  NAME is its first name (the host name, or a mail domain for its ``mta-sts.``/``autoconfig.`` names);
- ``status.json``: what the manager last did (``status.py``), readable by any process.

Writes are atomic (temporary file, fsync, rename): a reader sees the old file or the new one. The key
is written before its certificate, so a certificate on disk always has its key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from pillarbox.net.tls import write_atomic

ACME_DIR = "acme"


def acme_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / ACME_DIR
    (path / "certs").mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path

    def exists(self) -> bool:
        return self.cert.is_file() and self.key.is_file()

    def load(self) -> x509.Certificate | None:
        """The leaf certificate, or None when there is none (or it cannot be read)."""
        try:
            return x509.load_pem_x509_certificates(self.cert.read_bytes())[0]
        except (OSError, ValueError, IndexError):
            return None

    def save(self, fullchain_pem: bytes, key_pem: bytes) -> None:
        write_atomic(self.key, key_pem, mode=0o600)
        write_atomic(self.cert, fullchain_pem, mode=0o600)


def cert_files(data_dir: Path, name: str) -> CertFiles:
    certs = acme_dir(data_dir) / "certs"
    return CertFiles(certs / f"{name}.pem", certs / f"{name}.key")


def existing_cert_files(data_dir: Path, name: str) -> CertFiles | None:
    """The certificate issued for ``name`` if there is one (never creates the folder)."""
    files = CertFiles(Path(data_dir) / ACME_DIR / "certs" / f"{name}.pem",
                      Path(data_dir) / ACME_DIR / "certs" / f"{name}.key")
    return files if files.exists() else None


def load_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def save_json(path: Path, value: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True).encode(), mode=0o600)
