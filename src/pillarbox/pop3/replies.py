"""Every POP3 status line the server sends, by name (habit 10: never retype a reply string).

    status = ("+OK" / "-ERR") [SP [resp-code SP] text] CRLF          ; RFC 1939 3, RFC 2449 8
    resp-code = "[" resp-level *("/" resp-level) "]"

Response codes used: IN-USE and LOGIN-DELAY (RFC 2449 8.1), SYS/TEMP, SYS/PERM and AUTH (RFC 3206).
RFC 6856 5's UTF8 is not: outside UTF-8 mode a message with UTF-8 header fields is sent downgraded.
``fault`` marks refusals caused by a misbehaving client: the session counts those and closes after
``max_command_errors`` (a missing message is not the client's fault).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    ok: bool
    text: str
    code: str | None = None
    fault: bool = False

    def __post_init__(self) -> None:
        if "\r" in self.text or "\n" in self.text:
            raise ValueError("a POP3 status line is one line")

    def to_bytes(self) -> bytes:
        parts = ["+OK" if self.ok else "-ERR"]
        if self.code:
            parts.append(f"[{self.code}]")
        if self.text:
            parts.append(self.text)
        return (" ".join(parts) + "\r\n").encode("utf-8")

    def format(self, **values: object) -> Reply:
        # not dataclasses.replace, which costs twice as much: RETR formats one reply per message
        return Reply(self.ok, self.text.format(**values), self.code, self.fault)

    def __str__(self) -> str:
        return self.to_bytes().decode("utf-8", "replace").rstrip("\r\n")


def ok(text: str) -> Reply:
    return Reply(True, text)


def _fault(text: str, code: str | None = None) -> Reply:
    return Reply(False, text, code, fault=True)


def _err(text: str, code: str | None = None) -> Reply:
    return Reply(False, text, code)


GREETING = ok("{host} Pillarbox POP3 server ready")
BYE = ok("{host} closing connection")
CAPA = ok("Capability list follows")
NOOP = ok("")
USER_OK = ok("send PASS")
LOGGED_IN = ok("maildrop locked and ready, {count} messages ({size} octets)")
STAT = ok("{count} {size}")
LIST = ok("{count} messages ({size} octets)")
UIDL = ok("unique-id listing follows")
RETR = ok("{size} octets")
TOP = ok("top of message follows")
DELE = ok("message {number} deleted")
RSET = ok("maildrop has {count} messages ({size} octets)")
QUIT_UPDATED = ok("{host} closing connection, {deleted} messages deleted")
STLS = ok("Begin TLS negotiation")
UTF8 = ok("UTF8 enabled")
AUTH_OK = ok("maildrop locked and ready, {count} messages ({size} octets)")
AUTH_LIST = ok("authentication mechanisms follow")

# the client's mistakes (counted)
UNKNOWN_COMMAND = _fault("unknown command")
WRONG_STATE = _fault("command not valid in this state")
SYNTAX_ERROR = _fault("syntax error in arguments")
INVALID_NUMBER = _fault("invalid message number")
LINE_TOO_LONG = _fault("line too long")
NOT_UTF8 = _fault("command is not valid UTF-8")
PASS_WITHOUT_USER = _fault("USER first")
PLAINTEXT_REFUSED = _fault("plaintext authentication is not allowed without TLS; use STLS first")
ALREADY_TLS = _fault("TLS is already active")
STLS_AFTER_UTF8 = _fault("STLS is not allowed after UTF8")  # RFC 6856 2.1
APOP_REFUSED = _fault("APOP is not supported; use USER/PASS or AUTH over TLS")
AUTH_FAILED = Reply(False, "authentication failed", "AUTH", fault=True)
UNKNOWN_MECHANISM = _fault("unrecognized authentication mechanism")
SASL_MALFORMED = _fault("malformed authentication exchange")
SASL_CANCELLED = _err("authentication cancelled")
TOO_MANY_ERRORS = _err("too many errors; closing connection")

# refusals that are not the client's fault
NO_SUCH_MESSAGE = _err("no such message")
ALREADY_DELETED = _err("message {number} already deleted")
DELETED_ELSEWHERE = _err("message was deleted by another session")
IN_USE = _err("maildrop already locked by another session", "IN-USE")  # RFC 2449 8.1.2
LOGIN_DELAY = _err("minimum time between logins has not passed", "LOGIN-DELAY")  # RFC 2449 8.1.1
NO_INBOX = _err("no maildrop for this account", "SYS/PERM")
STORE_FAILED = _err("temporary storage failure; try again later", "SYS/TEMP")
NOT_REMOVED = _err("some deleted messages not removed; try again later", "SYS/TEMP")  # RFC 1939 6
TIMEOUT = _err("idle for too long; closing connection")
TOO_MANY_CONNECTIONS = _err("too many connections; try again later", "SYS/TEMP")
