"""Every SMTP reply the server sends, by name (habit 10: never retype a reply string).

A reply is a basic code (RFC 5321 4.2), an optional enhanced status code (RFC 3463, carried as
described by RFC 2034 ENHANCEDSTATUSCODES) and a text that may span several lines.

    Reply-line = *( Reply-code "-" [ textstring ] CRLF )
                 Reply-code [ SP textstring ] CRLF                  ; RFC 5321 4.2

RFC 2034 section 4: the enhanced code appears on *every* line of a 2xx/4xx/5xx reply, and its class
agrees with the basic code's; it is left off the greeting, replies to EHLO/HELO and 3xx replies
(those constants below have ``enhanced=None``). Handlers use the constants here, or derive one with
``with_text`` / ``format`` when the text carries a value (a host name, a size, a queue id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# status-code = class "." subject "." detail ; class = "2"/"4"/"5"; subject, detail = 1*3digit (RFC 3463 2)
_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


class ReplyClass:
    """What a reply code says about the outcome (RFC 5321 4.2.1); shared by our replies and the
    replies our SMTP client reads from peers."""

    code: int

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500


@dataclass(frozen=True)
class Reply(ReplyClass):
    """One SMTP reply; ``text`` lines are separated by "\\n" (each becomes one reply line)."""

    code: int
    enhanced: str | None
    text: str

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"reply code out of range: {self.code}")
        if self.enhanced is not None and not _agrees(self.enhanced, self.code):
            raise ValueError(f"enhanced code {self.enhanced!r} does not agree with {self.code}")
        if "\r" in self.text:
            raise ValueError("reply text must not contain CR")

    @property
    def lines(self) -> list[str]:
        """The text lines (at least one, possibly empty)."""
        return self.text.split("\n")

    def with_text(self, text: str) -> Reply:
        """The same codes with another text (for messages naming the address, size...)."""
        return replace(self, text=text)

    def format(self, **values: object) -> Reply:
        """Fill the ``{name}`` fields of a template text, e.g. ``SERVICE_READY.format(host=...)``."""
        return replace(self, text=self.text.format(**values))

    def to_bytes(self) -> bytes:
        """The wire form: "250-..." continuation lines and a final "250 ..." line, each ending CRLF."""
        lines = self.lines
        out = []
        for index, line in enumerate(lines):
            sep = " " if index == len(lines) - 1 else "-"
            out.append(f"{self.code}{sep}{self._line_text(line)}\r\n")
        return "".join(out).encode("utf-8")

    def _line_text(self, line: str) -> str:
        if self.enhanced is None:
            return line
        return f"{self.enhanced} {line}" if line else self.enhanced

    def __str__(self) -> str:
        return self.to_bytes().decode("utf-8", "replace").rstrip("\r\n")


def _agrees(enhanced: str, code: int) -> bool:
    """RFC 2034 4: a 2xx reply carries a 2.X.X code, 4xx a 4.X.X, 5xx a 5.X.X."""
    return bool(_ENHANCED.fullmatch(enhanced)) and enhanced[0] == str(code)[0]


def multiline(code: int, enhanced: str | None, lines: list[str]) -> Reply:
    """A reply of several lines, e.g. the EHLO keywords."""
    return Reply(code, enhanced, "\n".join(lines))


def ehlo_reply(greeting: str, keywords: list[str]) -> Reply:
    """The EHLO reply: the greeting line then one line per extension keyword (RFC 5321 4.1.1.1)."""
    return multiline(250, None, [greeting, *keywords])


def auth_challenge(base64_text: str) -> Reply:
    """ "334" SP [base64] (RFC 4954 4): a SASL challenge, no enhanced code (3xx, RFC 2034)."""
    return Reply(334, None, base64_text)


# -- 2xx ------------------------------------------------------------------------------------------
SERVICE_READY = Reply(220, None, "{host} ESMTP Pillarbox ready")
TLS_READY = Reply(220, "2.0.0", "Ready to start TLS")
CLOSING = Reply(221, "2.0.0", "Bye")
HELP = Reply(214, "2.0.0", "See RFC 5321")
AUTH_SUCCEEDED = Reply(235, "2.7.0", "Authentication successful")
OK = Reply(250, "2.0.0", "OK")
HELO_OK = Reply(250, None, "{host}")
SENDER_OK = Reply(250, "2.1.0", "Sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")
RESET_OK = Reply(250, "2.0.0", "Reset OK")
MESSAGE_ACCEPTED = Reply(250, "2.0.0", "Message accepted as {queue_id}")
CHUNK_OK = Reply(250, "2.0.0", "{size} octets received")
VRFY_DISABLED = Reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")

# -- 3xx (no enhanced codes, RFC 2034 4) -----------------------------------------------------------
START_MAIL_INPUT = Reply(354, None, "Start mail input; end with <CRLF>.<CRLF>")

# -- 4xx ------------------------------------------------------------------------------------------
SHUTTING_DOWN = Reply(421, "4.3.2", "Service shutting down, closing transmission channel")
TIMEOUT = Reply(421, "4.4.2", "Idle timeout, closing transmission channel")
TOO_MANY_ERRORS = Reply(421, "4.7.0", "Too many errors, closing transmission channel")
TOO_MANY_CONNECTIONS = Reply(421, "4.7.0", "Too many connections, try again later")
MAILBOX_BUSY = Reply(450, "4.2.1", "Mailbox busy, try again later")
TEMP_FAILURE = Reply(451, "4.3.0", "Local error in processing, try again later")
INSUFFICIENT_STORAGE = Reply(452, "4.3.1", "Insufficient system storage")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")
TLS_NOT_AVAILABLE = Reply(454, "4.7.0", "TLS not available due to temporary reason")
AUTH_TEMP_FAILURE = Reply(454, "4.7.0", "Temporary authentication failure")
SPF_TEMP_FAILURE = Reply(451, "4.7.24", "Temporary DNS error checking SPF for {domain}, try again later")
DMARC_TEMP_FAILURE = Reply(451, "4.7.26", "Temporary DNS error checking DMARC for {domain}, try again later")
# RFC 6647 2.1, 4.2: greylisting answers with a temporary failure that names itself
GREYLISTED = Reply(451, "4.7.1", "Greylisted: please try again in {seconds} seconds")
SENDING_LIMIT = Reply(451, "4.7.1", "Sending limit reached ({limit} {what} per hour), please try again later")
SPAM_DEFERRED = Reply(451, "4.7.1", "Message deferred by the spam filter, please try again later")
FILTER_UNAVAILABLE = Reply(451, "4.3.0", "Spam filter unavailable, please try again later")

# -- 5xx: syntax and sequence -----------------------------------------------------------------------
SYNTAX_ERROR = Reply(500, "5.5.2", "Syntax error, command unrecognized")
LINE_TOO_LONG = Reply(500, "5.5.6", "Line too long")
PARAM_SYNTAX = Reply(501, "5.5.4", "Syntax error in parameters or arguments")
BAD_SENDER_SYNTAX = Reply(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT_SYNTAX = Reply(501, "5.1.3", "Bad recipient address syntax")
PATH_TOO_LONG = Reply(501, "5.5.4", "Path too long")
AUTH_CANCELLED = Reply(501, "5.0.0", "Authentication cancelled")
BASE64_ERROR = Reply(501, "5.5.2", "Cannot decode base64 response")
NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands")
PARAM_NOT_IMPLEMENTED = Reply(504, "5.5.4", "Command parameter not implemented")
AUTH_MECH_UNKNOWN = Reply(504, "5.5.4", "Unrecognized authentication type")
PARAM_NOT_RECOGNIZED = Reply(555, "5.5.4", "MAIL FROM/RCPT TO parameters not recognized or not implemented")

# -- 5xx: policy and security -----------------------------------------------------------------------
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
STARTTLS_REQUIRED = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
REQUIRETLS_WITHOUT_TLS = Reply(530, "5.7.10", "REQUIRETLS needs a TLS session")
"""RFC 8689 2: the MAIL FROM option may only be given in a session that employs TLS."""
AUTH_TOO_WEAK = Reply(534, "5.7.9", "Authentication mechanism is too weak")
AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
ENCRYPTION_REQUIRED = Reply(538, "5.7.11", "Encryption required for requested authentication mechanism")
NO_SUCH_USER = Reply(550, "5.1.1", "No such user here")
MAILBOX_DISABLED = Reply(550, "5.2.1", "Mailbox disabled, not accepting messages")
RELAY_DENIED = Reply(554, "5.7.1", "Relay access denied")
# RFC 5321 3.1: a 554 instead of the 220 greeting refuses the session; the server then waits for QUIT
CLIENT_BLOCKED = Reply(554, "5.7.1", "Service unavailable; client [{ip}] blocked using {lists}")
PREGREET = Reply(554, "5.5.1", "Protocol error; client [{ip}] sent data before the greeting")
SPAM_REJECTED = Reply(550, "5.7.1", "Message rejected as spam")
ACCOUNT_HELD = Reply(550, "5.7.1", "Sending from this account is held for review; please contact the postmaster")
DMARC_REJECTED = Reply(550, "5.7.1", "Message rejected: it fails the DMARC policy of {domain}")
SPF_REJECTED = Reply(550, "5.7.23", "Message rejected: {domain} does not allow this host to send its mail (SPF)")
SIEVE_REJECTED = Reply(550, "5.7.1", "Rejected by the recipient's filter: {reason}")
SRS_INVALID = Reply(550, "5.1.1", "Invalid or expired forwarding (SRS) address")
SOURCE_ROUTE_REFUSED = Reply(550, "5.7.1", "Source routes are not accepted for relaying")
SENDER_NOT_OWNED = Reply(553, "5.7.1", "Sender address not owned by authenticated user")
AUTHOR_NOT_OWNED = Reply(553, "5.7.1", "From:/Sender: address not owned by authenticated user")
AUTHOR_FIELDS_INVALID = Reply(550, "5.6.0", "Message needs one From: field with an address and at most one Sender:")
BAD_MAILBOX_NAME = Reply(553, "5.1.3", "Mailbox name not allowed")
NON_ASCII_ADDRESS = Reply(553, "5.6.7", "Non-ASCII addresses require SMTPUTF8")
SIZE_EXCEEDED = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
HEADER_TOO_BIG = Reply(552, "5.3.4", "Message header exceeds fixed maximum size")
HEADER_TOO_MANY_LINES = Reply(554, "5.6.0", "Message header has too many lines")
QUOTA_EXCEEDED = Reply(552, "5.2.2", "Mailbox full")
BARE_LINE_ENDING = Reply(550, "5.5.2", "Bare LF/CR not allowed in message, use CRLF")
TRANSACTION_FAILED = Reply(554, "5.0.0", "Transaction failed")
NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")
BURL_FAILED = Reply(554, "5.6.6", "IMAP URL resolution failed")
"""RFC 4468 6: the URL cannot be fetched (not authorized for this user, expired, gone)."""
