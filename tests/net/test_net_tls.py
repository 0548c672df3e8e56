"""Self-signed certificate generation, the server context, reload, and TLS descriptions."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import shutil
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from pillarbox.errors import ConfigError
from pillarbox.net.listener import Connection, Listener
from pillarbox.net.tls import (
    TLSContextHolder,
    build_server_context,
    describe_tls,
    ensure_certificate,
    format_tls,
)

HOSTNAME = "mail.example.test"  # as in conftest.py


async def _hello(conn: Connection) -> None:
    await conn.write(b"hello\r\n")


async def _peer_cert(port: int, ctx: ssl.SSLContext, server_hostname: str) -> bytes:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname=server_hostname
    )
    try:
        assert await reader.readline() == b"hello\r\n"
        return writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()


def test_generates_once_with_private_key_mode(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path, HOSTNAME)
    assert (cert, key) == (tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    first = cert.read_bytes()
    assert ensure_certificate(tmp_path, HOSTNAME) == (cert, key)
    assert cert.read_bytes() == first  # reused, not regenerated
    assert not [p for p in cert.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_regenerates_when_a_file_is_missing(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path, HOSTNAME)
    first = cert.read_bytes()
    key.unlink()
    ensure_certificate(tmp_path, HOSTNAME)
    assert key.is_file()
    assert cert.read_bytes() != first
    build_server_context(cert, key)  # the pair matches


def test_certificate_names_and_validity(cert_files: tuple[Path, Path]) -> None:
    cert = x509.load_pem_x509_certificate(cert_files[0].read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [HOSTNAME, "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert cert.subject.rfc4514_string() == f"CN={HOSTNAME}"
    assert cert.issuer == cert.subject
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime > datetime.timedelta(days=3600)
    assert cert.not_valid_before_utc < datetime.datetime.now(datetime.UTC)


@pytest.mark.parametrize("server_hostname", ["127.0.0.1", "localhost", HOSTNAME])
def test_client_trusting_the_file_verifies(run, holder, client_ctx, server_hostname: str) -> None:
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # the default from Python 3.13 on
    assert client_ctx.check_hostname

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], _hello, tls=holder)
        await listener.start()
        try:
            await _peer_cert(listener.addresses[0][1], client_ctx, server_hostname)
        finally:
            await listener.stop()

    run(scenario())


def test_wrong_name_is_rejected(run, holder, client_ctx) -> None:
    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], _hello, tls=holder)
        await listener.start()
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await _peer_cert(listener.addresses[0][1], client_ctx, "other.example")
        finally:
            await listener.stop()

    run(scenario())


def test_server_context_settings(holder: TLSContextHolder) -> None:
    ctx = holder.context
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.options & ssl.OP_NO_COMPRESSION
    assert ctx.options & ssl.OP_NO_RENEGOTIATION
    ciphers = {c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert ciphers and all("GCM" in name or "CHACHA20" in name for name in ciphers)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_1_1_client_is_refused(run, holder, cert_files) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(cert_files[0]))
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], _hello, tls=holder)
        await listener.start()
        try:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                await _peer_cert(listener.addresses[0][1], old, "localhost")
        finally:
            await listener.stop()

    run(scenario())


def test_reload_swaps_context_for_new_connections(run, tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path / "one", HOSTNAME)
    second = ensure_certificate(tmp_path / "two", HOSTNAME)
    live = tmp_path / "live"
    live.mkdir()
    cert, key = live / "cert.pem", live / "key.pem"
    shutil.copy(first[0], cert)
    shutil.copy(first[1], key)
    holder = TLSContextHolder(cert, key)
    trust_both = ssl.create_default_context(cafile=str(first[0]))
    trust_both.load_verify_locations(str(second[0]))

    async def handler(conn: Connection) -> None:
        await conn.write(b"hello\r\n")
        await conn.read()  # stay open until the client closes

    async def scenario() -> None:
        listener = Listener([("127.0.0.1", 0)], handler, tls=holder)
        await listener.start()
        port = listener.addresses[0][1]
        try:
            r_old, w_old = await asyncio.open_connection(
                "127.0.0.1", port, ssl=trust_both, server_hostname="localhost"
            )
            assert await r_old.readline() == b"hello\r\n"
            shutil.copy(second[0], cert)
            shutil.copy(second[1], key)
            holder.reload()
            seen = await _peer_cert(port, trust_both, "localhost")
            assert seen == ssl.PEM_cert_to_DER_cert(second[0].read_text())
            # The connection made before the reload carries on with the old certificate.
            old_cert = w_old.get_extra_info("ssl_object").getpeercert(binary_form=True)
            assert old_cert == ssl.PEM_cert_to_DER_cert(first[0].read_text())
            w_old.write(b"still here\r\n")
            await w_old.drain()
            w_old.close()
        finally:
            await listener.stop()

    run(scenario())


def test_failed_reload_keeps_old_context(tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path, HOSTNAME)
    holder = TLSContextHolder(cert, key)
    before = holder.context
    cert.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"cert\.pem"):
        holder.reload()
    assert holder.context is before
    key.unlink()
    with pytest.raises(ConfigError):
        holder.reload()
    assert holder.context is before


def test_missing_files_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        TLSContextHolder(tmp_path / "nope.pem", tmp_path / "nokey.pem")


def test_describe_and_format_tls() -> None:
    class FakeSSLObject:
        def cipher(self) -> tuple[str, str, int]:
            return ("TLS_AES_256_GCM_SHA384", "TLSv1.3", 256)

        def version(self) -> str:
            return "TLSv1.3"

    info = describe_tls(FakeSSLObject())
    assert info == {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "bits": 256}
    assert format_tls(info) == "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
    assert describe_tls(None) is None
    assert format_tls(None) == ""
