"""A scriptable SMTP server for client tests: records transactions, answers as told, in a thread.

``SMTPSink(host, port, extensions=[...], rcpt_reply=lambda address: "250 2.1.5 ok")``; every accepted
message lands in ``sink.messages`` as (sender, recipients, MAIL params, RCPT params, bytes). With a
``tls`` context, STARTTLS works whenever ``extensions`` offers it (a test may stop offering it).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    mail_params: list[str]
    rcpt_params: list[list[str]]
    data: bytes
    tls: bool = False


@dataclass
class SMTPSink:
    host: str = "127.0.0.1"
    port: int = 0
    extensions: list[str] = field(default_factory=lambda: ["PIPELINING", "8BITMIME", "SIZE 1000000"])
    rcpt_reply: Callable[[str], str] = lambda address: "250 2.1.5 ok"
    greeting: str = "220 sink.test ESMTP"
    data_delay: float = 0.0
    """Seconds before the final reply to DATA (a slow peer); a message whose sender is gone by then is
    not kept (it never saw the 250)."""
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._session, self.host, self.port))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say(self.greeting)
        current: Received | None = None
        while line := (await reader.readline()).decode(errors="replace").rstrip("\r\n"):
            self.commands.append(line)
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                lines = ["sink.test", *self.extensions]
                for n, text in enumerate(lines):
                    say(f"250{'-' if n < len(lines) - 1 else ' '}{text}")
            elif verb == "STARTTLS" and self.tls is not None and "STARTTLS" in self.extensions:
                say("220 2.0.0 go ahead")
                await writer.drain()
                await writer.start_tls(self.tls)
                continue
            elif verb == "MAIL":
                words = line[10:].split()
                secure = writer.get_extra_info("ssl_object") is not None
                current = Received(words[0].strip("<>"), [], words[1:], [], b"", secure)
                say("250 2.1.0 ok")
            elif verb == "RCPT" and current is not None:
                words = line[8:].split()
                reply = self.rcpt_reply(words[0].strip("<>"))
                if reply.startswith("2"):
                    current.recipients.append(words[0].strip("<>"))
                    current.rcpt_params.append(words[1:])
                say(reply)
            elif verb == "DATA" and current is not None and current.recipients:
                say("354 go ahead")
                current.data = await _read_data(reader)
                if self.data_delay:
                    await asyncio.sleep(self.data_delay)
                    if reader.at_eof():
                        break
                self.messages.append(current)
                current = None
                say("250 2.0.0 queued")
            elif verb == "DATA":
                say("554 5.5.1 no valid recipients")
            elif verb == "RSET":
                current = None
                say("250 2.0.0 ok")
            elif verb == "QUIT":
                say("221 2.0.0 bye")
                break
            else:
                say("502 5.5.1 not implemented")
            await writer.drain()
        await writer.drain()
        writer.close()


async def _read_data(reader: asyncio.StreamReader) -> bytes:
    lines = []
    while True:
        line = await reader.readline()
        if line in (b".\r\n", b""):
            break
        lines.append(line[1:] if line.startswith(b".") else line)
    return b"".join(lines)
