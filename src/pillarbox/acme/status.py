"""What ACME did last, for the CLI (``pillarbox acme status``), the admin pages and monitoring.

The manager (in the primary server process) writes ``data_dir/acme/status.json`` after every attempt;
``status(data_dir)`` reads it from any process. One entry per certificate: its names, the current
certificate's validity, when the next attempt is due, and the last error with the count of failures
in a row (0 once an order succeeded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pillarbox.acme.files import ACME_DIR, acme_dir, load_json, save_json

STATUS_FILE = "status.json"


@dataclass
class CertificateStatus:
    name: str
    names: list[str]
    not_before: float | None = None
    not_after: float | None = None
    serial: str | None = None
    next_attempt: float | None = None
    failures: int = 0
    last_error: str = ""
    last_success: float | None = None
    challenge: str = ""


@dataclass
class ACMEStatus:
    directory: str = ""
    certificates: list[CertificateStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def status(data_dir: Path) -> ACMEStatus:
    """The last state the manager wrote (an empty status when ACME never ran here)."""
    saved = load_json(Path(data_dir) / ACME_DIR / STATUS_FILE)
    certificates = [CertificateStatus(**entry) for entry in saved.get("certificates", []) if isinstance(entry, dict)]
    return ACMEStatus(str(saved.get("directory", "")), certificates)


def save_status(data_dir: Path, current: ACMEStatus) -> None:
    save_json(acme_dir(data_dir) / STATUS_FILE, current.to_json())
