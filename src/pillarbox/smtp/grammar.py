"""RFC 5321 4.1.2 command-argument productions: paths, mailboxes, domains and ESMTP parameters.

The problem: MAIL and RCPT arguments are the part of SMTP that peers abuse most (source routes,
quoted local parts with "@" and ">" inside, address literals, parameters nobody asked for, UTF-8 that
was never negotiated). The naive way, splitting on "<", "@" and ">", lets a quoted ">" end the path
early and a quoted "@" pick the wrong domain. Here each production is matched as the RFC writes it,
scanning quoted strings properly, with the 4.5.3.1 length limits.

Where we are lenient (harmless sloppiness of real clients): "FROM:"/"TO:" in any case, spaces after
the colon, several spaces between parameters. Where we are strict: angle brackets are required, and
source routes are accepted but dropped as 4.1.1.3 says, yet recorded so the session can refuse
relaying. RFC 6531 extends atext, qtextSMTP, sub-domain and esmtp-value with UTF8-non-ascii only
when the transaction carries SMTPUTF8; callers pass that flag.

Every function raises only ``ProtocolError(reply)`` (habit 4).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pillarbox.address import ATEXT, MAX_LOCAL_PART, QTEXT_SMTP, UTF8_NON_ASCII
from pillarbox.errors import ProtocolError
from pillarbox.smtp import replies
from pillarbox.smtp.replies import Reply

MAX_DOMAIN = 255  # 4.5.3.1.2
MAX_PATH = 256  # 4.5.3.1.3 (including the punctuation and element separators)
# atext, qtextSMTP and UTF8-non-ascii (RFC 6531 3.3) are those of ``address.py``, which admits new addresses
_U, _ATEXT, _QTEXT = UTF8_NON_ASCII, ATEXT, QTEXT_SMTP


def _patterns(utf8: bool) -> dict[str, re.Pattern[str]]:
    u = _U if utf8 else ""
    return {
        # Dot-string = Atom *("."  Atom) ; Atom = 1*atext
        "dot_string": re.compile(rf"[{_ATEXT}{u}]+(?:\.[{_ATEXT}{u}]+)*"),
        # Quoted-string = DQUOTE *QcontentSMTP DQUOTE
        "quoted_string": re.compile(rf'"(?:[{_QTEXT}{u}]|\\[\x20-\x7e])*"'),
        # sub-domain = Let-dig [Ldh-str] ; Domain = sub-domain *("." sub-domain)
        "domain": re.compile(
            rf"[A-Za-z0-9{u}](?:[A-Za-z0-9{u}-]*[A-Za-z0-9{u}])?"
            rf"(?:\.[A-Za-z0-9{u}](?:[A-Za-z0-9{u}-]*[A-Za-z0-9{u}])?)*"
        ),
        # esmtp-value = 1*(%d33-60 / %d62-126)
        "esmtp_value": re.compile(rf"[\x21-\x3c\x3e-\x7e{u}]+"),
    }


_ASCII = _patterns(False)
_UTF8 = _patterns(True)
# esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
_ESMTP_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# Standardized-tag ":" 1*dcontent ; dcontent = %d33-90 / %d94-126
_GENERAL_LITERAL = re.compile(r"[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5a\x5e-\x7e]+")
# Snum = 1*3DIGIT  ; representing a decimal integer value in the range 0 through 255
_SNUM = re.compile(r"\d{1,3}")
# hexchar = "+" 2(%x30-39 / %x41-46)  (RFC 3461 4; lower case accepted too)
_HEXCHAR = re.compile(r"\+([0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class MailFrom:
    """ "MAIL FROM:" Reverse-path [SP Mail-parameters] ; ``address`` None is the null path <>."""

    address: str | None
    params: dict[str, str | None] = field(default_factory=dict)
    had_source_route: bool = False

    @property
    def size(self) -> int | None:
        value = self.params.get("SIZE")
        return int(value) if value is not None else None

    @property
    def body(self) -> str | None:
        return self.params.get("BODY")

    @property
    def smtputf8(self) -> bool:
        return "SMTPUTF8" in self.params

    @property
    def priority(self) -> int:
        """RFC 6710 MT-PRIORITY, -9 (lowest) to 9 (highest); 0 when not given."""
        value = self.params.get("MT-PRIORITY")
        return int(value) if value else 0

    @property
    def requiretls(self) -> bool:
        """RFC 8689 4.1: the message must travel over validated TLS only, all the way."""
        return "REQUIRETLS" in self.params

    @property
    def ret(self) -> str | None:
        return self.params.get("RET")

    @property
    def envid(self) -> str | None:
        """ENVID with its xtext decoded (RFC 3461 4.4)."""
        value = self.params.get("ENVID")
        return decode_xtext(value) if value is not None else None


@dataclass(frozen=True)
class RcptTo:
    """ "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]"""

    address: str
    params: dict[str, str | None] = field(default_factory=dict)
    had_source_route: bool = False

    @property
    def notify(self) -> frozenset[str] | None:
        value = self.params.get("NOTIFY")
        return frozenset(value.split(",")) if value is not None else None

    @property
    def orcpt(self) -> tuple[str, str] | None:
        """(addr-type, decoded address) of ORCPT (RFC 3461 4.2)."""
        value = self.params.get("ORCPT")
        if value is None:
            return None
        addr_type, _, xtext = value.partition(";")
        return addr_type, decode_xtext(xtext)


# -- Path ------------------------------------------------------------------------------------------


def split_path_and_params(text: str, bad: Reply) -> tuple[str, list[str]]:
    """Cut "<...>" off the front (quoted strings may hold ">"), then the SP-separated parameters."""
    text = text.lstrip(" ")
    if not text.startswith("<"):
        raise ProtocolError(bad.with_text("Address must be enclosed in angle brackets"))
    end = _path_end(text, bad)
    rest = text[end + 1 :]
    if rest and not rest.startswith(" "):
        raise ProtocolError(bad.with_text("Garbage after address"))
    return text[: end + 1], rest.split()


def _path_end(text: str, bad: Reply) -> int:
    in_quotes = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif in_quotes and char == "\\":
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == ">" and not in_quotes:
            return index
    raise ProtocolError(bad.with_text("Unterminated address"))


def parse_path(path: str, *, utf8: bool, bad: Reply, null_ok: bool) -> tuple[str | None, bool]:
    """Path = "<" [ A-d-l ":" ] Mailbox ">" ; Reverse-path = Path / "<>". Returns (mailbox, had_route)."""
    if len(path.encode("utf-8")) > MAX_PATH:
        raise ProtocolError(replies.PATH_TOO_LONG)
    inner = path[1:-1]
    if inner == "":
        if null_ok:
            return None, False
        raise ProtocolError(bad.with_text("Null path not allowed here"))
    had_route = inner.startswith("@")
    if had_route:
        route, colon, inner = inner.partition(":")
        if not colon:
            raise ProtocolError(bad.with_text("Bad source route"))
        _check_route(route, utf8, bad)
    return parse_mailbox(inner, utf8=utf8, bad=bad), had_route


def _check_route(route: str, utf8: bool, bad: Reply) -> None:
    """A-d-l = At-domain *( "," At-domain ) ; At-domain = "@" Domain (4.1.1.3: accept, then ignore)."""
    for at_domain in route.split(","):
        if not at_domain.startswith("@"):
            raise ProtocolError(bad.with_text("Bad source route"))
        parse_domain(at_domain[1:], utf8=utf8, bad=bad, literal_ok=False)


def parse_mailbox(text: str, *, utf8: bool, bad: Reply) -> str:
    """Mailbox = Local-part "@" ( Domain / address-literal ). Returns it as written."""
    _refuse_unnegotiated_utf8(text, utf8)
    local, domain = _cut_local_part(text, bad)
    if len(local.encode("utf-8")) > MAX_LOCAL_PART:
        raise ProtocolError(bad.with_text("Local part too long"))
    parse_domain(domain, utf8=utf8, bad=bad, literal_ok=True)
    return f"{local}@{domain}"


def _cut_local_part(text: str, bad: Reply) -> tuple[str, str]:
    """Local-part = Dot-string / Quoted-string, followed by "@"."""
    match = _UTF8["quoted_string" if text.startswith('"') else "dot_string"].match(text)
    if match is None or text[match.end() : match.end() + 1] != "@":
        raise ProtocolError(bad.with_text("Bad local part or missing domain"))
    return match.group(), text[match.end() + 1 :]


def parse_domain(text: str, *, utf8: bool, bad: Reply, literal_ok: bool = True) -> str:
    """Domain = sub-domain *("." sub-domain) ; or address-literal (4.1.3) when ``literal_ok``."""
    _refuse_unnegotiated_utf8(text, utf8)
    if len(text.encode("utf-8")) > MAX_DOMAIN:
        raise ProtocolError(bad.with_text("Domain too long"))
    if literal_ok and text.startswith("[") and text.endswith("]"):
        if not is_address_literal(text):
            raise ProtocolError(bad.with_text("Bad address literal"))
        return text
    if not (_UTF8 if utf8 else _ASCII)["domain"].fullmatch(text):
        raise ProtocolError(bad.with_text("Bad domain"))
    return text


def is_address_literal(text: str) -> bool:
    """address-literal = "[" ( IPv4-address-literal / IPv6-address-literal / General-address-literal ) "]" """
    inner = text[1:-1]
    if inner[:5].lower() == "ipv6:":  # IPv6-address-literal = "IPv6:" IPv6-addr
        try:
            ipaddress.IPv6Address(inner[5:])
        except ValueError:
            return False
        return True
    parts = inner.split(".")  # IPv4-address-literal = Snum 3("."  Snum)
    if len(parts) == 4 and all(_SNUM.fullmatch(p) and int(p) <= 255 for p in parts):
        return True
    return bool(_GENERAL_LITERAL.fullmatch(inner)) and inner[:5].lower() != "ipv6:"


def _refuse_unnegotiated_utf8(text: str, utf8: bool) -> None:
    if not utf8 and not text.isascii():
        raise ProtocolError(replies.NON_ASCII_ADDRESS)


# -- address helpers -------------------------------------------------------------------------------


def split_address(address: str) -> tuple[str, str]:
    """(local part unquoted, domain normalised for comparison: lower case, IDNA A-labels).

    The Local-part is case-sensitive in principle (2.4), so it is only unquoted, never folded.
    "Postmaster" without a domain gives ("Postmaster", "").
    """
    quoted = _UTF8["quoted_string"].match(address)
    if quoted and address[quoted.end() : quoted.end() + 1] == "@":
        local, domain = _unquote(quoted.group()[1:-1]), address[quoted.end() + 1 :]
    else:
        local, _, domain = address.rpartition("@")
        if not local:
            return domain, ""
    return local, normalize_domain(domain)


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted)


def normalize_domain(domain: str) -> str:
    """Lower case; U-labels become A-labels so "bücher.example" equals "xn--bcher-kva.example"."""
    domain = domain.lower().rstrip(".")
    if domain.startswith("[") or domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def encode_xtext(text: str) -> str:
    """xtext = *( xchar / hexchar ) (RFC 3461 4): "+", "=" and non-xchar as "+XX"."""
    return "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else f"+{ord(c):02X}" for c in text)


def decode_xtext(text: str) -> str:
    return _HEXCHAR.sub(lambda m: chr(int(m.group(1), 16)), text)


def is_xtext(text: str, *, utf8: bool = False) -> bool:
    """xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "=" """
    stripped = _HEXCHAR.sub("", text)
    return all((33 <= ord(c) <= 126 and c not in "+=") or (utf8 and ord(c) > 127) for c in stripped)


# -- ESMTP parameters ------------------------------------------------------------------------------


def parse_esmtp_params(words: list[str], *, utf8: bool) -> dict[str, str | None]:
    """esmtp-param = esmtp-keyword ["=" esmtp-value] ; keywords upper-cased, duplicates refused."""
    params: dict[str, str | None] = {}
    for word in words:
        keyword, eq, value = word.partition("=")
        if not _ESMTP_KEYWORD.fullmatch(keyword):
            raise ProtocolError(replies.PARAM_SYNTAX.with_text(f"Bad parameter {keyword[:32]!r}"))
        if eq and not (_UTF8 if utf8 else _ASCII)["esmtp_value"].fullmatch(value):
            raise ProtocolError(replies.PARAM_SYNTAX.with_text(f"Bad value for {keyword.upper()}"))
        keyword = keyword.upper()
        if keyword in params:
            raise ProtocolError(replies.PARAM_SYNTAX.with_text(f"Duplicate parameter {keyword}"))
        params[keyword] = value if eq else None
    return params


Check = Callable[[str | None, bool], bool]  # (value, utf8) -> acceptable?


def _check_size(value: str | None, utf8: bool) -> bool:
    """size-value ::= 1*20DIGIT (RFC 1870 6)"""
    return value is not None and value.isascii() and value.isdigit() and len(value) <= 20


def _one_of(*choices: str) -> Check:
    return lambda value, utf8: value is not None and value.upper() in choices


def _no_value(value: str | None, utf8: bool) -> bool:
    return value is None


def _any_value(value: str | None, utf8: bool) -> bool:
    return value is not None


def _check_envid(value: str | None, utf8: bool) -> bool:
    """envid-parameter = "ENVID=" xtext, at most 100 characters (RFC 3461 4.4)"""
    return value is not None and len(value) <= 100 and is_xtext(value)


def _check_notify(value: str | None, utf8: bool) -> bool:
    """notify-esmtp-value = "NEVER" / 1#notify-list-element (RFC 3461 4.1)"""
    if value is None:
        return False
    items = value.upper().split(",")
    if items == ["NEVER"]:
        return True
    return len(set(items)) == len(items) and set(items) <= {"SUCCESS", "FAILURE", "DELAY"}


def _check_orcpt(value: str | None, utf8: bool) -> bool:
    """orcpt-parameter = "ORCPT=" original-recipient-address ; addr-type ";" xtext (RFC 3461 4.2)"""
    if value is None or len(value) > 500:
        return False
    addr_type, semicolon, xtext = value.partition(";")
    return bool(semicolon and _ESMTP_KEYWORD.fullmatch(addr_type) and xtext and is_xtext(xtext, utf8=utf8))


def _check_priority(value: str | None, utf8: bool) -> bool:
    """``priority-value = ["-" / "+"] DIGIT`` (RFC 6710 3): -9 to 9."""
    return value is not None and re.fullmatch(r"[+-]?[0-9]", value) is not None


def _check_hold_for(value: str | None, utf8: bool) -> bool:
    """``hold-for-param = "HOLDFOR=" 1*9DIGIT``."""
    return value is not None and re.fullmatch(r"[0-9]{1,9}", value) is not None


def _check_by(value: str | None, utf8: bool) -> bool:
    """``by-value = by-time ";" by-mode [by-trace]``, ``by-time = ["-" / "+"] 1*9digit``,
    ``by-mode = "N" / "R"``, ``by-trace = "T"`` (RFC 2852 4, case-insensitive)."""
    return value is not None and re.fullmatch(r"[+-]?[0-9]{1,9};[NnRr][Tt]?", value) is not None


_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9:.]+(?:[Zz]|[+-][0-9:]+)")


def _check_hold_until(value: str | None, utf8: bool) -> bool:
    """``hold-until-param = "HOLDUNTIL=" date-time`` (RFC 3339), its digits and separators."""
    return value is not None and _DATE_TIME.fullmatch(value) is not None


_MAIL_PARAMS: dict[str, Check] = {
    "SIZE": _check_size,  # RFC 1870
    "BODY": _one_of("7BIT", "8BITMIME", "BINARYMIME"),  # RFC 1652, RFC 3030
    "SMTPUTF8": _no_value,  # RFC 6531 3.4
    "RET": _one_of("FULL", "HDRS"),  # RFC 3461 4.3
    "ENVID": _check_envid,  # RFC 3461 4.4
    "AUTH": _any_value,  # RFC 4954 5: accepted and ignored
    "REQUIRETLS": _no_value,  # RFC 8689 4
    "MT-PRIORITY": _check_priority,  # RFC 6710 3
    "HOLDFOR": _check_hold_for,  # RFC 4865 4
    "HOLDUNTIL": _check_hold_until,  # RFC 4865 4, the date-time read by smtp/future_release.py
    "BY": _check_by,  # RFC 2852 4, read by smtp/deliver_by.py
}
_RCPT_PARAMS: dict[str, Check] = {"NOTIFY": _check_notify, "ORCPT": _check_orcpt}
_UPPERCASE_VALUES = {"BODY", "RET", "NOTIFY", "BY"}


def _validate(params: dict[str, str | None], table: dict[str, Check], utf8: bool) -> dict[str, str | None]:
    for keyword, value in params.items():
        check = table.get(keyword)
        if check is None:
            raise ProtocolError(replies.PARAM_NOT_RECOGNIZED.with_text(f"Parameter {keyword} not recognized"))
        if not check(value, utf8):
            raise ProtocolError(replies.PARAM_SYNTAX.with_text(f"Bad value for {keyword}"))
    return {k: (v.upper() if k in _UPPERCASE_VALUES and v else v) for k, v in params.items()}


def _strip_keyword(argument: str, keyword: str) -> str:
    """'FROM:' / 'TO:' in any case (lenient, 4.1.1.2 / 4.1.1.3); the rest after it."""
    if argument[: len(keyword)].upper() != keyword:
        raise ProtocolError(replies.PARAM_SYNTAX.with_text(f"Syntax: expected {keyword}<address>"))
    return argument[len(keyword) :]


def parse_mail(argument: str) -> MailFrom:
    """mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF (4.1.1.2); ``argument`` follows "MAIL "."""
    bad = replies.BAD_SENDER_SYNTAX
    path, words = split_path_and_params(_strip_keyword(argument, "FROM:"), bad)
    utf8 = any(word.upper() == "SMTPUTF8" for word in words)
    params = _validate(parse_esmtp_params(words, utf8=utf8), _MAIL_PARAMS, utf8)
    address, had_route = parse_path(path, utf8=utf8, bad=bad, null_ok=True)
    return MailFrom(address, params, had_route)


def parse_rcpt(argument: str, *, smtputf8: bool) -> RcptTo:
    """rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters]

    ``smtputf8``: the transaction's MAIL carried SMTPUTF8 (RFC 6531 3.4), so UTF-8 is allowed.
    """
    bad = replies.BAD_RECIPIENT_SYNTAX
    path, words = split_path_and_params(_strip_keyword(argument, "TO:"), bad)
    params = _validate(parse_esmtp_params(words, utf8=smtputf8), _RCPT_PARAMS, smtputf8)
    if path.lower() == "<postmaster>":
        return RcptTo(path[1:-1], params, False)
    address, had_route = parse_path(path, utf8=smtputf8, bad=bad, null_ok=False)
    assert address is not None
    return RcptTo(address, params, had_route)


def parse_helo_domain(argument: str) -> str:
    """ehlo = "EHLO" SP ( Domain / address-literal ) (4.1.1.1).

    Lenient: clients in the wild announce names with "_" or without dots; any single printable ASCII
    token is accepted and the session may judge it. Nothing, several words or control bytes: 501.
    """
    words = argument.split(" ")
    if len(words) != 1 or not words[0] or not all(33 <= ord(c) <= 126 for c in words[0]):
        raise ProtocolError(replies.PARAM_SYNTAX.with_text("EHLO/HELO requires one domain name"))
    if len(words[0]) > MAX_DOMAIN + 2:
        raise ProtocolError(replies.PARAM_SYNTAX.with_text("Domain too long"))
    return words[0]
