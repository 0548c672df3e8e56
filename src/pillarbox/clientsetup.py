"""What mail clients need to set themselves up: the services we really serve, on the configured ports.

One list (``served``) feeds every face of it, so they never disagree: the SRV records of
``pillarbox dns`` (RFC 6186, with RFC 8314's ``_submissions`` and its advice to prefer implicit TLS,
section 5.1: a lower priority number), the Thunderbird autoconfig file, the Autodiscover answer and
the Apple configuration profile (``web/autoconfig.py``). A service whose listener is not configured
is left out everywhere; the port is the one configured (or, while serving, the one bound).

Ports 25 (MX) and the plain ``http`` listener are not client services and are never announced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pillarbox.config import Config


@dataclass(frozen=True)
class ClientService:
    listener: str
    """The ``[listen]`` key: imaps, imap, pop3s, pop3, submissions, submission."""
    protocol: str
    """imap, pop3 or smtp (submission)."""
    port: int
    implicit_tls: bool
    srv_label: str
    srv_priority: int

    @property
    def socket_type(self) -> str:
        """Thunderbird's name for the TLS mode."""
        return "SSL" if self.implicit_tls else "STARTTLS"


# listener, protocol, implicit TLS, SRV label, priority (RFC 8314 5.1: implicit TLS first)
_KINDS = (
    ("imaps", "imap", True, "_imaps._tcp", 0),
    ("imap", "imap", False, "_imap._tcp", 10),
    ("pop3s", "pop3", True, "_pop3s._tcp", 20),
    ("pop3", "pop3", False, "_pop3._tcp", 30),
    ("submissions", "smtp", True, "_submissions._tcp", 0),
    ("submission", "smtp", False, "_submission._tcp", 10),
)


def configured_ports(config: Config) -> dict[str, int]:
    """The first configured port of every listener (what ``pillarbox dns`` announces)."""
    ports = {}
    for name in (*(kind[0] for kind in _KINDS), "https"):
        endpoints = getattr(config.listen, name, ())
        if endpoints:
            ports[name] = endpoints[0].port
    return ports


def served(ports: Mapping[str, int]) -> list[ClientService]:
    """The client services behind ``ports`` (listener name → port), best first per protocol."""
    return [ClientService(name, protocol, ports[name], tls, label, priority)
            for name, protocol, tls, label, priority in _KINDS if ports.get(name)]


def srv_records(domain: str, hostname: str, ports: Mapping[str, int], ttl: int) -> list[str]:
    """Zone-file SRV lines (RFC 2782 ``priority weight port target``) for what is served; RFC 6186 3.4:
    a service that is not offered gets a record with the target ``.``, so clients need not probe it."""
    d, target = f"{domain}.", f"{hostname}."
    offered = {s.listener: s for s in served(ports)}
    lines = []
    for name, _protocol, _tls, label, priority in _KINDS:
        service = offered.get(name)
        if service is None:
            lines.append(f"{label}.{d} {ttl} IN SRV 0 0 0 .")
        else:
            lines.append(f"{label}.{d} {ttl} IN SRV {priority} 1 {service.port} {target}")
    if ports.get("https"):
        lines.append(f"_autodiscover._tcp.{d} {ttl} IN SRV 0 1 {ports['https']} {target}")
    return lines
