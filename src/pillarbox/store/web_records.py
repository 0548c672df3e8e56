"""Records of the web face that cross the store boundary: sessions, API tokens, app passwords, logins,
reports received from other domains, delivery outcomes (``store/api.WebStore``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WebSession:
    account_id: int
    address: str
    admin: bool
    csrf: str
    """The token every state-changing request of this session must carry (form field or header)."""
    ip: str
    created: float
    last_seen: float
    expires: float


@dataclass(frozen=True)
class ApiToken:
    id: int
    address: str
    admin: bool
    name: str
    created: float
    last_used: float | None


@dataclass(frozen=True)
class AppPassword:
    id: int
    name: str
    created: float
    last_used: float | None


@dataclass(frozen=True)
class LoginRecord:
    protocol: str
    ip: str
    at: float


@dataclass(frozen=True)
class ReceivedReport:
    """A DMARC aggregate (``kind`` "dmarc") or TLS-RPT (``kind`` "tlsrpt") report another domain sent us."""

    id: int
    kind: str
    reporter: str
    report_id: str
    domain: str
    begin: int
    end: int
    rows: list[dict[str, Any]]
    received: float


@dataclass(frozen=True)
class QueueSample:
    """The outbound queue's size at one moment (recipients by state), for the dashboard's chart."""

    at: int
    pending: int
    held: int
    failed: int


@dataclass(frozen=True)
class DeliveryCount:
    hour: int
    """Seconds since the epoch, at the start of the hour."""
    domain: str
    result: str
    """delivered, deferred, bounced."""
    count: int
