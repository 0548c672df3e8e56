"""The PROXY protocol parser (sans-IO): the spec's own examples, every header whole, one byte at a time
and followed by the client's bytes, and hostile input that must be refused early and never buffered
past the spec's maximum."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.net.proxy_headers import ssl_tlv, tlv, v1, v2

from pillarbox.net.proxy_header import (
    V1_MAX,
    V2_MAX,
    V2_SIGNATURE,
    BalancerTLS,
    HeaderReader,
    ProxyHeader,
    ProxyHeaderError,
    crc32c,
    parse,
)

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).filter(lambda a: a.ipv4_mapped is None).map(str)
ports = st.integers(0, 65535)
tls_names = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
ssl_tlvs = st.builds(ssl_tlv, tls_names, tls_names, client=st.integers(0, 7))
tlv_lists = st.lists(st.one_of(st.tuples(st.sampled_from([0x01, 0x02, 0x04, 0x05, 0xE0]), st.binary(max_size=40)),
                               ssl_tlvs), max_size=4).map(tuple)


@st.composite
def address_pairs(draw: st.DrawFn) -> tuple[tuple[str, int], tuple[str, int]]:
    family = draw(st.sampled_from([ipv4, ipv6]))
    return (draw(family), draw(ports)), (draw(family), draw(ports))


@st.composite
def headers(draw: st.DrawFn) -> tuple[bytes, ProxyHeader]:
    """A header as a balancer sends it, and what it must parse to."""
    source, destination = draw(address_pairs())
    if draw(st.booleans()):
        return v1(source, destination), ProxyHeader(1, source, destination)
    tlvs = draw(tlv_lists)
    with_crc = draw(st.booleans())
    raw = v2(source, destination, tlvs=tlvs, with_crc=with_crc)
    crc_tlv = ((0x03, raw[-4:]),) if with_crc else ()
    return raw, ProxyHeader(2, source, destination, tlvs + crc_tlv)


def read_whole(reader: HeaderReader, stream: bytes) -> tuple[ProxyHeader, bytes]:
    """Drive the reader as the listener does (peek ``want()``, consume what ``offer`` says); the rest."""
    while True:
        taken, header = reader.offer(stream[:reader.want()])
        stream = stream[taken:]
        if header is not None:
            return header, stream


# --- the spec's examples (2.1, 2.2) -------------------------------------------------------------------


def test_the_spec_examples() -> None:
    assert parse(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n") == (
        ProxyHeader(1, ("192.168.0.1", 56324), ("192.168.0.11", 443)), 47)
    assert parse(b"PROXY UNKNOWN\r\n") == (ProxyHeader(1), 15)
    worst = b"PROXY UNKNOWN " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n"
    assert len(worst) == V1_MAX and parse(worst) == (ProxyHeader(1), V1_MAX)
    assert parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 25\r\n")[0] == ProxyHeader(
        1, ("2001:db8::1", 1), ("2001:db8::2", 25))


def test_v2_local_and_unspec_keep_the_connections_own_addresses() -> None:
    local = V2_SIGNATURE + b"\x20\x00\x00\x00"
    assert parse(local) == (ProxyHeader(2), 16)
    local_with_block = V2_SIGNATURE + b"\x20\x11\x00\x0c" + bytes(12)  # "must not assume zero" (2.2)
    assert parse(local_with_block) == (ProxyHeader(2), 28)
    assert parse(v2(None)) == (ProxyHeader(2), 16)
    udp = bytearray(v2(("192.0.2.1", 53), ("192.0.2.2", 53)))
    udp[13] = 0x12
    assert parse(bytes(udp))[0] == ProxyHeader(2)
    unix = V2_SIGNATURE + b"\x21\x31\x00\xd8" + bytes(216)
    assert parse(unix) == (ProxyHeader(2), 232)


def test_an_ipv4_mapped_client_is_plain_ipv4() -> None:
    header, _ = parse(v2(("::ffff:192.0.2.7", 4000), ("::1", 25)))
    assert header is not None and header.source == ("192.0.2.7", 4000)


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # RFC 3720 B.4's check value for the Castagnoli CRC


# --- whole, byte by byte, followed by the client's bytes ------------------------------------------------


@given(headers(), st.binary(max_size=64))
def test_whole_header_then_the_clients_bytes_stay(sample: tuple[bytes, ProxyHeader], after: bytes) -> None:
    raw, expected = sample
    assert read_whole(HeaderReader(), raw + after) == (expected, after)
    assert parse(raw + after) == (expected, len(raw))


@given(headers())
def test_one_byte_at_a_time(sample: tuple[bytes, ProxyHeader]) -> None:
    raw, expected = sample
    reader = HeaderReader()
    for index, byte in enumerate(raw):
        assert reader.want() >= 1
        taken, header = reader.offer(bytes([byte]))
        assert taken == 1
        assert (header is not None) == (index == len(raw) - 1)
    assert header == expected


@given(headers(), st.data())
def test_any_split(sample: tuple[bytes, ProxyHeader], data: st.DataObject) -> None:
    raw, expected = sample
    cut = data.draw(st.integers(0, len(raw) - 1))
    reader = HeaderReader()
    looked_at = min(cut, reader.want())  # a v2 header can be longer than the first look (V1_MAX bytes)
    assert reader.offer(raw[:cut]) == (looked_at, None)
    assert read_whole(reader, raw[looked_at:] + b"EHLO x\r\n") == (expected, b"EHLO x\r\n")


# --- hostile input ------------------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_anything_is_a_header_more_to_come_or_the_error(noise: bytes) -> None:
    reader = HeaderReader()
    try:
        taken, header = reader.offer(noise)
    except ProxyHeaderError:
        return
    assert 0 <= taken <= len(noise)
    assert header is not None or reader.want() <= V2_MAX


@pytest.mark.parametrize("first", [b"\x16\x03\x01", b"EHLO", b"GET ", b"proxy ", b"\r\n\r\n\x00\r\nQUIX"])
def test_other_protocols_are_refused_at_once(first: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        HeaderReader().offer(first)


@pytest.mark.parametrize("line", [
    b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",  # LF alone
    b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\r\n",  # a CR before the CRLF
    b"PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",
    b"PROXY TCP4  192.168.0.1 192.168.0.11 56324 443\r\n",  # two spaces
    b"PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n",  # a leading zero
    b"PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n",
    b"PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",
    b"PROXY TCP4 2001:db8::1 192.168.0.11 1 443\r\n",  # family mismatch
    b"PROXY TCP6 ::ffff:192.0.2.1 ::1 1 443\r\n",  # a dotted tail
    b"PROXY TCP6 fe80::1%eth0 ::1 1 443\r\n",  # a zone
    b"PROXY TCP4 192.168.0.1 192.168.0.11 +1 443\r\n",
    b"PROXY UDP4 192.168.0.1 192.168.0.11 1 443\r\n",
    "PROXY TCP4 192.168.0.1 192.168.0.11 ٣ 443\r\n".encode(),  # a non-ASCII digit
])
def test_bad_v1_lines(line: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        read_whole(HeaderReader(), line)


def test_a_v1_line_without_crlf_is_refused_at_107_bytes() -> None:
    reader = HeaderReader()
    taken, _ = reader.offer(b"PROXY UNKNOWN " + b"x" * 92)  # 106 bytes, room for one more
    assert taken == 106 and reader.want() == 1
    with pytest.raises(ProxyHeaderError):
        reader.offer(b"x")


@pytest.mark.parametrize("mutate", [
    lambda h: h[:12] + b"\x11" + h[13:],  # version 1 in a binary header
    lambda h: h[:12] + b"\x22" + h[13:],  # command 2
    lambda h: h[:13] + b"\x41" + h[14:],  # family 4
    lambda h: h[:13] + b"\x13" + h[14:],  # protocol 3
    lambda h: h[:14] + b"\x00\x08" + h[16:24],  # an IPv4 block shorter than 12
    lambda h: h[:14] + b"\x00\x0e" + h[16:] + b"\x01\x00",  # a truncated TLV
    lambda h: h[:14] + b"\x00\x10" + h[16:] + b"\x01\x00\x09x",  # a TLV past the end
    lambda h: h[:-1] + bytes([h[-1] ^ 1]),  # a wrong CRC32C
])
def test_bad_v2_blocks(mutate) -> None:
    good = v2(("192.0.2.1", 1000), ("192.0.2.2", 25), with_crc=True)
    assert read_whole(HeaderReader(), good)[0].source == ("192.0.2.1", 1000)
    with pytest.raises(ProxyHeaderError):
        read_whole(HeaderReader(), mutate(good))


def test_v2_is_never_buffered_past_its_announced_length() -> None:
    reader = HeaderReader()
    fixed = V2_SIGNATURE + b"\x21\x11\xff\xff"
    assert reader.offer(fixed) == (16, None)
    assert reader.want() == 0xFFFF
    taken, header = reader.offer(b"\x00" * 100_000)  # zero-filled: 21841 empty TLVs of type 0
    assert taken == 0xFFFF and header is not None


def test_the_longest_v2_header_is_whole_at_its_length() -> None:
    body = ipaddress.ip_address("192.0.2.1").packed * 2 + b"\x00\x01\x00\x19"
    padding = 0xFFFF - len(body) - 3
    raw = V2_SIGNATURE + b"\x21\x11\xff\xff" + body + b"\x04" + padding.to_bytes(2, "big") + bytes(padding)
    assert len(raw) == V2_MAX
    header, rest = read_whole(HeaderReader(), raw + b"rest")
    assert header.source == ("192.0.2.1", 1) and rest == b"rest"


# --- the SSL TLV (2.2.5): a balancer that ended the client's TLS ----------------------------------------

@given(tls_names, tls_names, st.integers(0, 255))
def test_the_ssl_tlv_says_tls_only_with_the_client_ssl_flag(version: str, cipher: str, flags: int) -> None:
    header, _size = parse(v2(("192.0.2.1", 1), tlvs=((0x05, b"id"), ssl_tlv(version, cipher, client=flags))))
    assert header is not None
    assert header.tls == (BalancerTLS(version, cipher) if flags & 0x01 else None)


def test_no_ssl_tlv_no_tls() -> None:
    assert parse(v2(("192.0.2.1", 1), with_crc=True))[0].tls is None
    assert parse(v1(("192.0.2.1", 1), ("192.0.2.2", 25)))[0].tls is None


@pytest.mark.parametrize("value", [
    b"\x01\x00\x00\x00",  # shorter than its flags and verify result
    b"\x01" + bytes(4) + b"\x21\x00\x09TLSv1.3",  # a sub-TLV longer than the SSL TLV
    b"\x01" + bytes(4) + b"\x21",  # a truncated sub-TLV
    b"\x01" + bytes(4) + tlv(0x21, "TLSv1.3\u00e9".encode()),  # a version that is not US-ASCII
    b"\x01" + bytes(4) + tlv(0x23, b"AES\r\nX-Injected: 1"),  # a cipher with a line break
])
def test_bad_ssl_tlvs_refuse_the_header(value: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse(v2(("192.0.2.1", 1), tlvs=((0x20, value),)))
