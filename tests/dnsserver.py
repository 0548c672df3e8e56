"""A tiny authoritative DNS server on loopback for tests (UDP and TCP, one port), in a thread.

Zones are a dict ``{(name, type): [rdata text, ...]}``, e.g. ``{("b.test", "MX"): ["10 mx.b.test."],
("mx.b.test", "A"): ["127.0.0.3"]}``. A name absent from every key is NXDOMAIN; a known name
without the asked type is NODATA. Names in ``servfail`` answer SERVFAIL; names in ``secure`` get the
AD bit (what a validating resolver says of DNSSEC-signed data, which DANE trusts). With
``negative_ttl`` set, NXDOMAIN and NODATA answers carry an SOA whose MINIMUM is that value (RFC 2308
negative caching); without it they carry none, and resolvers must not cache them. Records may be
changed while it runs (``server.records[...] = [...]``). A name with a CNAME answers other types with the
CNAME and, when it is known here, the target's records.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterable

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

TTL = 60


class DNSServer:
    def __init__(self, records: dict[tuple[str, str], list[str]] | None = None, host: str = "127.0.0.1",
                 servfail: Iterable[str] = (), secure: Iterable[str] = (), negative_ttl: int | None = None) -> None:
        self.records = {(_norm(n), t.upper()): list(v) for (n, t), v in (records or {}).items()}
        self.servfail = {_norm(n) for n in servfail}
        self.secure = {_norm(n) for n in secure}
        self.negative_ttl = negative_ttl
        self.queries: list[tuple[str, str]] = []
        self._udp, self._tcp = self._bind_both(host)
        self.address = (host, self._udp.server_address[1])
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
                         for s in (self._udp, self._tcp)]
        for thread in self._threads:
            thread.start()

    def _bind_both(self, host: str, attempts: int = 20) -> tuple[_UDP, _TCP]:
        """UDP and TCP on one port number: the free UDP port the kernel picks may be taken for TCP."""
        for _ in range(attempts):
            udp = _UDP((host, 0), _udp_handler(self))
            try:
                return udp, _TCP((host, udp.server_address[1]), _tcp_handler(self))
            except OSError:
                udp.server_close()
        raise OSError(f"no port free for both UDP and TCP on {host}")

    @property
    def nameserver(self) -> str:
        """The ``[dns] nameservers`` entry that points at this server."""
        return f"{self.address[0]}:{self.address[1]}"

    def set(self, name: str, rdtype: str, values: list[str]) -> None:
        self.records[(_norm(name), rdtype.upper())] = values

    def answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = _norm(question.name.to_text())
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        values = self.records.get((name, rdtype))
        alias = self.records.get((name, "CNAME")) if rdtype != "CNAME" else None
        if values:
            response.answer.append(dns.rrset.from_text(question.name, TTL, "IN", rdtype, *values))
        elif alias:  # as an authoritative server does: the CNAME, then the target's records if we have them
            response.answer.append(dns.rrset.from_text(question.name, TTL, "IN", "CNAME", *alias))
            target = self.records.get((_norm(alias[0]), rdtype))
            if target:
                response.answer.append(dns.rrset.from_text(alias[0], TTL, "IN", rdtype, *target))
        else:
            if not any(n == name for n, _ in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            if self.negative_ttl is not None:
                response.authority.append(dns.rrset.from_text(
                    "test.", TTL, "IN", "SOA", f"ns.test. admin.test. 1 3600 600 86400 {self.negative_ttl}"))
        if name in self.secure:
            response.flags |= dns.flags.AD
        return response.to_wire()

    def close(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


class _UDP(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True


class _TCP(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def _udp_handler(server: DNSServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            reply = server.answer(data)
            sock.sendto(reply, self.client_address)

    return Handler


def _tcp_handler(server: DNSServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            head = conn.recv(2)
            if len(head) < 2:
                return
            (length,) = struct.unpack("!H", head)
            data = b""
            while len(data) < length:
                chunk = conn.recv(length - len(data))
                if not chunk:
                    return
                data += chunk
            reply = server.answer(data)
            conn.sendall(struct.pack("!H", len(reply)) + reply)

    return Handler
