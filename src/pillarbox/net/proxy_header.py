"""The PROXY protocol header, receiver side, sans-IO (HAProxy's proxy-protocol.txt, versions 1 and 2).

The problem: behind a TCP load balancer (HAProxy, nginx ``stream``) every connection comes from the
balancer's address, so SPF, DNSBLs, per-address limits, the login throttle and the logs would all see
one client. The balancer can prepend a header saying who the client really was: a text line
(version 1, ``PROXY TCP4 192.0.2.1 198.51.100.2 56324 25\\r\\n``) or a binary block (version 2: a 12-byte
signature, version and command, family and protocol, a length, the addresses, then TLVs).

What the spec asks of a receiver, and where it is subtle:

- it must not start the connection (our greeting, the TLS handshake) before the whole header is in,
  and must read no byte past it: the bytes after it are the client's (a ClientHello on port 465);
- a v1 line is at most 107 bytes with its CRLF, ends only at CRLF (a lone CR or LF is invalid), uses
  exactly one space between fields and no leading zeros; ``UNKNOWN`` means "use the connection's own
  addresses" and whatever follows it on the line is ignored (2.1);
- v2 is ``16 + len`` bytes; the LOCAL command (a health check) and the families and protocols we do
  not serve (AF_UNSPEC, AF_UNIX, UDP) also mean "the connection's own addresses"; unknown versions,
  commands, families and protocols are refused (2.2); a CRC32C TLV, when present, must match (2.2.3);
- a v2 ``PP2_TYPE_SSL`` TLV (2.2.5) says whether the client reached the balancer over TLS (the
  ``PP2_CLIENT_SSL`` flag; HAProxy sends the TLV with the flag clear for a plain client) and may carry
  the TLS version and cipher as sub-TLVs; it is checked like the header (sub-TLVs that fill it exactly,
  the names printable US-ASCII) and believed only from a trusted balancer (``net/proxy.py``);
- anything else aborts the connection: there is no guessing whether a header is present (5), which is
  the listener's business (``net/proxy.py``), not this module's.

``HeaderReader`` tells the caller how many bytes it may look at (``want``), and for what it was shown
(``offer``) how many to consume: everything while the header is incomplete (those bytes can only be
header), and exactly the header's remainder once it is whole. So a caller that peeks (MSG_PEEK) and
consumes only what it is told leaves the client's own bytes in the socket. It never holds more than
the spec's maximum: 107 bytes for v1, 16 + 65535 for v2.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
V1_MAX = 107  # "PROXY UNKNOWN" with two full IPv6 addresses and ports, CRLF included (2.1)
V2_FIXED = 16
V2_MAX = V2_FIXED + 0xFFFF
V2_LOCAL, V2_PROXY = 0x0, 0x1
AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX = 0x0, 0x1, 0x2, 0x3
STREAM = 0x1
PP2_TYPE_CRC32C = 0x03
PP2_TYPE_SSL, PP2_CLIENT_SSL = 0x20, 0x01
PP2_SUBTYPE_SSL_VERSION, PP2_SUBTYPE_SSL_CIPHER = 0x21, 0x23
SSL_FIXED = 5  # the SSL TLV's client flags (1 byte) and verify result (4), before its sub-TLVs
_ADDRESS_BLOCK = {AF_INET: (4, 12), AF_INET6: (16, 36), AF_UNIX: (108, 216)}  # address size, block size
_V1_PORT = re.compile(r"(?:0|[1-9][0-9]{0,4})\Z")

Address = tuple[str, int]


class ProxyHeaderError(ValueError):
    """Not a valid PROXY protocol header: the connection must be closed."""


@dataclass(frozen=True)
class BalancerTLS:
    """The client's TLS as the balancer that ended it describes it (empty: not said)."""

    version: str = ""
    cipher: str = ""


@dataclass(frozen=True)
class ProxyHeader:
    """A whole header. ``source`` None: the connection's own addresses stand (LOCAL, UNKNOWN, UNSPEC)."""

    version: int
    source: Address | None = None
    destination: Address | None = None
    tlvs: tuple[tuple[int, bytes], ...] = ()
    """Version 2's type-length-value extensions, in order (e.g. 0x05 the proxy's unique id)."""

    @property
    def tls(self) -> BalancerTLS | None:
        """The client reached the balancer over TLS (v2 ``PP2_TYPE_SSL`` with ``PP2_CLIENT_SSL``, 2.2.5),
        or None. Whether to believe it is the listener's business: only a trusted balancer is heard."""
        for kind, value in self.tlvs:
            if kind == PP2_TYPE_SSL and value[0] & PP2_CLIENT_SSL:
                said = {kind: text for _at, kind, text in _split(value, SSL_FIXED)}
                return BalancerTLS(*(_ascii(said.get(sub, b"")) for sub in (PP2_SUBTYPE_SSL_VERSION,
                                                                            PP2_SUBTYPE_SSL_CIPHER)))
        return None


class HeaderReader:
    """Collects one header from the start of a connection (see the module essay for the contract)."""

    def __init__(self) -> None:
        self._got = bytearray()
        self._wanted = V1_MAX  # neither version known yet: the longer v1 line covers v2's fixed part

    def want(self) -> int:
        """The most bytes the header may still need: look at no more than this many."""
        return self._wanted

    def offer(self, available: bytes) -> tuple[int, ProxyHeader | None]:
        """``available``: bytes received but not consumed. Returns how many of them to consume, and the
        header once it is whole. Raises ProxyHeaderError as soon as the bytes cannot be a header."""
        available = available[:self._wanted]
        buffer = self._got + available
        header, size = parse(buffer)
        if header is not None:
            return size - len(self._got), header
        self._got = buffer
        self._wanted = size
        return len(available), None


def parse(buffer: bytes | bytearray) -> tuple[ProxyHeader | None, int]:
    """``(header, its length)`` when ``buffer`` starts with a whole header; ``(None, n)`` when it is the
    start of one that needs at most ``n`` more bytes. Raises ProxyHeaderError otherwise."""
    if not buffer:
        return None, V1_MAX
    if V2_SIGNATURE.startswith(buffer[:12]):
        return _parse_v2(buffer)
    if V1_PREFIX.startswith(buffer[:6]):
        return _parse_v1(buffer)
    raise ProxyHeaderError("not a PROXY protocol header")


# --------------------------------------------------------------------------------------------------
# Version 1: one line of text (2.1).


def _parse_v1(buffer: bytes | bytearray) -> tuple[ProxyHeader | None, int]:
    end = buffer.find(b"\r\n", 0, V1_MAX)
    line = buffer[:end] if end >= 0 else buffer[:V1_MAX]
    # a CR as the last byte received may still be followed by its LF
    if b"\n" in line or b"\r" in (line if end >= 0 else line[:-1]):
        raise ProxyHeaderError("a bare CR or LF in the PROXY line")
    if end < 0:
        if len(buffer) >= V1_MAX:
            raise ProxyHeaderError(f"no CRLF in the first {V1_MAX} bytes of the PROXY line")
        return None, V1_MAX - len(buffer)
    return _v1_fields(bytes(line)), end + 2


def _v1_fields(line: bytes) -> ProxyHeader:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("a PROXY line must be US-ASCII") from None
    fields = text.split(" ")
    if fields[1:2] == ["UNKNOWN"]:
        return ProxyHeader(1)  # "the receiver must ignore anything presented before the CRLF"
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise ProxyHeaderError("a PROXY line is PROXY TCP4|TCP6 source destination sport dport")
    source, destination = (_v1_address(fields[1], text) for text in fields[2:4])
    sport, dport = (_v1_port(text) for text in fields[4:6])
    return ProxyHeader(1, (source, sport), (destination, dport))


def _v1_address(family: str, text: str) -> str:
    try:
        if family == "TCP4":
            return _shown(ipaddress.IPv4Address(text))  # refuses leading zeros (octal confusion)
        if "%" in text or "." in text:  # neither a zone nor a dotted IPv4 tail is the canonical format
            raise ValueError(text)
        return _shown(ipaddress.IPv6Address(text))
    except ValueError:
        raise ProxyHeaderError(f"not an {family} address: {text[:40]!r}") from None


def _v1_port(text: str) -> int:
    if not _V1_PORT.match(text) or int(text) > 0xFFFF:
        raise ProxyHeaderError(f"not a port: {text[:8]!r}")
    return int(text)


# --------------------------------------------------------------------------------------------------
# Version 2: a binary block (2.2).


def _parse_v2(buffer: bytes | bytearray) -> tuple[ProxyHeader | None, int]:
    if len(buffer) > 12 and buffer[12] >> 4 != 2:
        raise ProxyHeaderError(f"PROXY protocol version {buffer[12] >> 4} (only 2 has a binary header)")
    if len(buffer) > 12 and buffer[12] & 0xF not in (V2_LOCAL, V2_PROXY):
        raise ProxyHeaderError(f"unknown PROXY v2 command {buffer[12] & 0xF}")
    if len(buffer) < V2_FIXED:
        return None, V2_FIXED - len(buffer)
    size = V2_FIXED + int.from_bytes(buffer[14:16], "big")
    if len(buffer) < size:
        return None, size - len(buffer)
    if buffer[12] & 0xF == V2_LOCAL:
        return ProxyHeader(2), size  # the proxy's own connection: "discard the protocol block"
    return _v2_proxied(bytes(buffer[:size])), size


def _v2_proxied(header: bytes) -> ProxyHeader:
    family, protocol = header[13] >> 4, header[13] & 0xF
    if family > AF_UNIX or protocol > 2:
        raise ProxyHeaderError(f"unknown PROXY v2 family/protocol byte 0x{header[13]:02x}")
    if family == AF_UNSPEC or protocol == 0:
        return ProxyHeader(2)  # "the receiver should ignore address information"; TLVs cannot be found
    address_size, block = _ADDRESS_BLOCK[family]
    if len(header) < V2_FIXED + block:
        raise ProxyHeaderError(f"PROXY v2 address block shorter than {block} bytes")
    tlvs = _tlvs(header, V2_FIXED + block)
    if family == AF_UNIX or protocol != STREAM:
        return ProxyHeader(2, tlvs=tlvs)  # not TCP (UNIX, UDP): the spec's fallback is the connection's own
    addresses = header[V2_FIXED:V2_FIXED + block]
    source, destination = (_shown(ipaddress.ip_address(addresses[at:at + address_size]))
                           for at in (0, address_size))
    ports = addresses[2 * address_size:]
    return ProxyHeader(2, (source, int.from_bytes(ports[:2], "big")),
                       (destination, int.from_bytes(ports[2:4], "big")), tlvs)


def _tlvs(header: bytes, at: int) -> tuple[tuple[int, bytes], ...]:
    """The TLVs from offset ``at`` to the end, the CRC32C checked when there is one (2.2.3)."""
    found = []
    for offset, kind, value in _split(header, at):
        if kind == PP2_TYPE_CRC32C:
            _check_crc(header, offset, value)
        if kind == PP2_TYPE_SSL:
            _check_ssl(value)
        found.append((kind, value))
    return tuple(found)


def _split(data: bytes, at: int) -> list[tuple[int, int, bytes]]:
    """``(offset of the value, type, value)`` of each TLV from ``at``, which must end exactly at the end."""
    found: list[tuple[int, int, bytes]] = []
    while at < len(data):
        if at + 3 > len(data):
            raise ProxyHeaderError("a truncated PROXY v2 TLV")
        kind, length = data[at], int.from_bytes(data[at + 1:at + 3], "big")
        value = data[at + 3:at + 3 + length]
        if len(value) != length:
            raise ProxyHeaderError("a PROXY v2 TLV longer than its container")
        found.append((at + 3, kind, value))
        at += 3 + length
    return found


def _check_crc(header: bytes, at: int, value: bytes) -> None:
    if len(value) != 4:
        raise ProxyHeaderError("a PROXY v2 CRC32C TLV must hold 4 bytes")
    zeroed = header[:at] + bytes(4) + header[at + 4:]
    if crc32c(zeroed) != int.from_bytes(value, "big"):
        raise ProxyHeaderError("PROXY v2 CRC32C mismatch")


def _check_ssl(value: bytes) -> None:
    """The SSL TLV's fixed part, then sub-TLVs that fill it exactly (2.2.5), their text US-ASCII."""
    if len(value) < SSL_FIXED:
        raise ProxyHeaderError(f"a PROXY v2 SSL TLV must hold at least {SSL_FIXED} bytes")
    for _at, kind, text in _split(value, SSL_FIXED):
        if kind in (PP2_SUBTYPE_SSL_VERSION, PP2_SUBTYPE_SSL_CIPHER):
            _ascii(text)


def _ascii(text: bytes) -> str:
    """A sub-TLV's text (a TLS version or cipher name), printable US-ASCII only: it reaches log lines
    and the Received header."""
    if not all(0x20 < byte < 0x7F for byte in text):
        raise ProxyHeaderError("a PROXY v2 SSL sub-TLV that is not printable US-ASCII")
    return text.decode("ascii")


def _shown(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The client as the rest of the server knows it: an IPv4-mapped IPv6 address (a dual-stack
    proxy's IPv4 client) as plain IPv4, so SPF and the limits see the same client either way."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        crc = index
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)  # Castagnoli, reflected (RFC 4960 B)
        table.append(crc)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli) as RFC 4960 appendix B computes it; ``crc32c(b"123456789") == 0xE3069283``."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
