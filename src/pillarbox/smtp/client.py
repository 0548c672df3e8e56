"""The asyncio glue of the SMTP client: a connection, the RFC 5321 4.5.3.2 timeouts, STARTTLS, AUTH.

Everything SMTP-shaped is decided in ``client_protocol``; this module moves bytes and keeps time.
The timeouts are the RFC's minimums per stage (greeting 5 min, MAIL 5, RCPT 5, DATA initiation 2,
each data block 3, the final "." 10), so a slow but working server is never cut off early.
"""

from __future__ import annotations

import _ssl
import asyncio
import base64
import contextlib
import ssl
from dataclasses import dataclass
from typing import Any

from pillarbox.smtp.client_protocol import (
    ClientProtocolError,
    Extensions,
    MailTransaction,
    ReplyParser,
    ServerReply,
    command,
)

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Seconds per stage (RFC 5321 4.5.3.2); tests scale them down."""

    connect: float = 30.0
    greeting: float = 300.0
    ehlo: float = 300.0
    mail: float = 300.0
    rcpt: float = 300.0
    data_init: float = 120.0
    data_block: float = 180.0
    data_end: float = 600.0


class SMTPClientError(Exception):
    """The connection failed (refused, reset, timed out, not SMTP): try the next host or later."""


class SMTPClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str,
                 timeouts: Timeouts) -> None:
        self._reader = reader
        self._writer = writer
        self.peer = peer
        self.timeouts = timeouts
        self._parser = ReplyParser()
        self.extensions = Extensions()
        self.tls: dict[str, Any] | None = None
        self.greeting: ServerReply | None = None

    @classmethod
    async def connect(cls, address: str, port: int, timeouts: Timeouts = Timeouts(),
                      ssl_context: ssl.SSLContext | None = None, server_hostname: str | None = None,
                      source: str | None = None) -> SMTPClient:
        """``source``: the local address to leave from (the one the SPF record and PTR name), else the
        kernel's choice."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address, port, ssl=ssl_context,
                                        server_hostname=server_hostname if ssl_context else None,
                                        local_addr=(source, 0) if source else None),
                timeouts.connect)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise SMTPClientError(f"connect to {address}:{port}: {exc or type(exc).__name__}") from exc
        client = cls(reader, writer, address, timeouts)
        if ssl_context is not None:
            client._note_tls()
        return client

    # ------------------------------------------------------------------------------------ plumbing

    async def read_reply(self, timeout: float) -> ServerReply:
        while True:
            reply = self._parser.next_reply()
            if reply is not None:
                return reply
            try:
                data = await asyncio.wait_for(self._reader.read(CHUNK), timeout)
            except (OSError, TimeoutError) as exc:
                raise SMTPClientError(f"{self.peer}: {'timeout' if isinstance(exc, TimeoutError) else exc}") from exc
            if not data:
                raise SMTPClientError(f"{self.peer}: connection closed")
            try:
                self._parser.receive_data(data)
            except ClientProtocolError as exc:
                raise SMTPClientError(f"{self.peer}: {exc}") from exc

    async def send(self, data: bytes, timeout: float) -> None:
        try:
            self._writer.write(data)
            await asyncio.wait_for(self._writer.drain(), timeout)
        except (OSError, TimeoutError) as exc:
            raise SMTPClientError(f"{self.peer}: write failed: {exc or 'timeout'}") from exc

    async def command(self, line: bytes, timeout: float) -> ServerReply:
        await self.send(line, timeout)
        return await self.read_reply(timeout)

    # ------------------------------------------------------------------------------------ session

    async def greet(self) -> ServerReply:
        self.greeting = await self.read_reply(self.timeouts.greeting)
        return self.greeting

    async def ehlo(self, name: str) -> ServerReply:
        reply = await self.command(command("EHLO", name), self.timeouts.ehlo)
        if reply.code == 250:
            self.extensions = Extensions.parse(reply)
            return reply
        reply = await self.command(command("HELO", name), self.timeouts.ehlo)
        self.extensions = Extensions()
        return reply

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> ServerReply:
        """STARTTLS and the TLS handshake; the caller sends EHLO again (RFC 3207 4.2)."""
        reply = await self.command(command("STARTTLS"), self.timeouts.ehlo)
        if reply.code != 220:
            return reply
        try:
            await asyncio.wait_for(self._writer.start_tls(context, server_hostname=server_hostname),
                                   self.timeouts.ehlo)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise SMTPClientError(f"{self.peer}: TLS handshake: {exc or 'timeout'}") from exc
        self._parser = ReplyParser()
        self._note_tls()
        return reply

    def _note_tls(self) -> None:
        obj = self._writer.get_extra_info("ssl_object")
        if obj is not None:
            name, _proto, bits = obj.cipher() or ("", "", 0)
            self.tls = {"version": obj.version(), "cipher": name, "bits": bits}

    def peer_chain(self) -> list[bytes]:
        """The certificates the server sent (DER, leaf first, unverified); DANE-TA needs more than the leaf."""
        obj = self._writer.get_extra_info("ssl_object")
        if obj is None:
            return []
        # SSLObject.get_unverified_chain() is public only from Python 3.13; before, it lives on the C object.
        chain = obj._sslobj.get_unverified_chain() or []
        return [cert.public_bytes(_ssl.ENCODING_DER) for cert in chain]

    async def auth_plain(self, username: str, password: str) -> ServerReply:
        token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
        return await self.command(command("AUTH", f"PLAIN {token}"), self.timeouts.ehlo)

    async def run(self, transaction: MailTransaction) -> None:
        """Drive one transaction to its end (each stage with its own timeout)."""
        while not transaction.done:
            batch = transaction.commands()
            if batch:
                await self.send(batch, self.timeouts.mail)
            if transaction.sending_body:
                await self._send_body(transaction.body())
                transaction.handle(await self.read_reply(self.timeouts.data_end))
                continue
            stage = self.timeouts.rcpt if transaction.mail_reply else self.timeouts.mail
            if transaction.rcpt_replies and len(transaction.rcpt_replies) == len(transaction.envelope.recipients):
                stage = self.timeouts.data_init
            transaction.handle(await self.read_reply(stage))

    async def _send_body(self, payload: bytes) -> None:
        for start in range(0, len(payload), CHUNK):
            await self.send(payload[start:start + CHUNK], self.timeouts.data_block)

    async def rset(self) -> ServerReply:
        return await self.command(command("RSET"), self.timeouts.mail)

    async def quit(self) -> None:
        with contextlib.suppress(SMTPClientError):
            await self.command(command("QUIT"), 10)
        await self.close()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(self._writer.wait_closed(), 5)

    @property
    def is_closing(self) -> bool:
        return self._writer.is_closing()
