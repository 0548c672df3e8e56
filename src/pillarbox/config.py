"""Configuration: one TOML file turned into frozen dataclasses.

The file is read once, at start, by a human who just edited it. So the one thing this module must do
well is refuse: every mistake (a typo in a key, a string where a number belongs, a port out of range,
half a TLS pair, a TOML syntax error) comes back as a ``ConfigError`` whose message is ONE line naming
the file and the key, e.g. ``pillarbox.toml: limits.max_recipients: expected a positive integer, got "x"``.
Never a traceback, and never a silently ignored key: an unknown key is almost always a misspelt one.

The loader is driven by the dataclasses themselves: each field's annotation (``int``, ``float``, ``str``,
``Path``) or a ``convert`` function in its metadata says how a TOML value becomes the field's value, and
its default is what an absent key means. A table whose missing keys mean something other than "default"
(``[listen]``), or whose keys depend on each other (``[tls]``), has a ``_complete`` hook. Adding a table
is therefore: write its dataclass, add a field of that type to ``Config``, document it in docs/config.md.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import socket
import tomllib
import typing
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from pillarbox.address import DOT_STRING, MAX_LOCAL_PART, AddressError, mailbox_address, normalize_domain
from pillarbox.errors import ConfigError
from pillarbox.paths import default_config_path, default_data_dir

ENV_VAR = "PILLARBOX_CONFIG"
MiB = 1024 * 1024
DEFAULT_MAX_MESSAGE_SIZE = 50 * MiB
DEFAULT_MIN_FREE_SPACE = 256 * MiB
DEFAULT_FLAG_FLUSH_DELAY = 1.0  # seconds (store/sqlite/deferred.py)
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("kv", "json")


class _Bad(ValueError):
    """One refused value; the text is the tail of the final ConfigError (the loader adds file and key)."""


# --------------------------------------------------------------------------------------------------
# Values that are useful outside the file too (the CLI parses sizes and endpoints from options).

_SIZE_RE = re.compile(r"\s*([0-9]+)\s*(?:([kmgt])(?:i?b)?|b)?\s*\Z", re.IGNORECASE | re.ASCII)
_SIZE_UNITS = {None: 1, "k": 1024, "m": MiB, "g": 1024 * MiB, "t": 1024 * 1024 * MiB}


def parse_size(text: str | int) -> int:
    """``"2M"`` → 2 MiB; ``K``, ``M``, ``G``, ``T`` are powers of 1024 (a trailing ``B``/``iB`` is allowed);
    a plain number is bytes. Raises ValueError on anything else, including negative and fractional sizes."""
    if isinstance(text, bool):  # bool is an int subclass; `true` is never a size
        raise ValueError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"negative size: {text}")
        return text
    if not isinstance(text, str):
        raise ValueError(f"not a size: {text!r}")
    match = _SIZE_RE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    unit = match.group(2).lower() if match.group(2) else None
    return int(match.group(1)) * _SIZE_UNITS[unit]


_LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


def parse_hostname(text: str) -> str:
    """A DNS host name (RFC 1123 letters-digits-hyphen labels) in lower case without a trailing dot.

    Raises ValueError otherwise. Non-ASCII names must be given in their A-label (``xn--``) form, so that
    what we announce in EHLO and certificates is exactly what the file says."""
    name = text.lower()
    name = name[:-1] if name.endswith(".") else name
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise ValueError(f"not a valid host name: {text!r}")
    if labels[-1].isdigit():  # "10.0.0.1" has valid labels but is an address, not a name
        raise ValueError(f"not a valid host name: {text!r}")
    return name


@dataclass(frozen=True)
class Endpoint:
    """A host and port to listen on or connect to; ``str()`` gives ``host:port`` with IPv6 in brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @classmethod
    def parse(cls, text: str, default_port: int | None = None) -> Endpoint:
        """``"127.0.0.1:25"``, ``"[::1]:143"``, ``"mail.example.com:25"``; the port may be left out only
        when ``default_port`` is given (then a bare IPv6 address is accepted too). Raises ValueError."""
        host, port = _split_host_port(text.strip(), default_port)
        return cls(_canonical_host(host, bracketed=text.strip().startswith("[")), port)


def _split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError("missing ] after an IPv6 address")
    elif text.count(":") > 1:
        # A bare IPv6 address: its last group could be a port, so it is only unambiguous without one.
        if default_port is None:
            raise ValueError("an IPv6 address needs brackets, e.g. [::1]:25")
        return text, default_port
    else:
        host, sep, rest = text.partition(":")
        rest = sep + rest
    if not rest:
        if default_port is None:
            raise ValueError("missing :port")
        return host, default_port
    return host, _parse_port(rest)


def _parse_port(rest: str) -> int:
    digits = rest[1:]
    if not rest.startswith(":") or not digits.isascii() or not digits.isdigit() or int(digits) > 65535:
        raise ValueError("port must be a number from 0 to 65535")
    return int(digits)


def _canonical_host(host: str, *, bracketed: bool) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if bracketed and not isinstance(address, ipaddress.IPv6Address):
        raise ValueError("only an IPv6 address goes in brackets")
    if address is not None:
        return str(address)  # canonical spelling, so that "::0001" and "::1" compare equal
    return parse_hostname(host)


# --------------------------------------------------------------------------------------------------
# Converters: (raw TOML value, directory that relative paths are resolved against) -> field value.

Convert = Callable[[Any, Path], Any]


def _show(value: Any) -> str:
    """How a refused value is quoted in the message: short, and always on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int | float):
        return str(value)
    text = value if isinstance(value, str) else str(value)  # TOML dates and times end up here
    return json.dumps(text[:60] + ("..." if len(text) > 60 else ""))  # json.dumps escapes line breaks


def _expected(what: str, value: Any) -> _Bad:
    return _Bad(f"expected {what}, got {_show(value)}")


def _integer(minimum: int) -> Convert:
    what = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"

    def convert(value: Any, base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _expected(what, value)
        return value

    return convert


def _positive_number(value: Any, base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        raise _expected("a positive number", value)
    return float(value)


def _seconds_or_zero(value: Any, base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 60:
        raise _expected("a number of seconds from 0 to 60", value)
    return float(value)


def _size(value: Any, base: Path) -> int:
    try:
        size = parse_size(value)
    except ValueError:
        raise _expected('a size such as "50M" or a number of bytes', value) from None
    if size < 1:
        raise _expected("a size above zero", value)
    return size


def _size_or_zero(value: Any, base: Path) -> int:
    try:
        return parse_size(value)
    except ValueError:
        raise _expected('a size such as "256M", or 0', value) from None


def _choice(choices: tuple[str, ...]) -> Convert:
    def convert(value: Any, base: Path) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise _expected("one of " + ", ".join(json.dumps(c) for c in choices), value)
        return value.lower()

    return convert


def _path(value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise _expected("a path", value)
    # An absolute value replaces base entirely; normpath folds "a/../b" so logs show a plain path.
    return Path(os.path.normpath(base / Path(value).expanduser()))


def _existing_file(value: Any, base: Path) -> Path:
    path = _path(value, base)
    if not path.is_file():
        raise _Bad(f"no such file: {json.dumps(str(path))}")
    return path


def _hostname(value: Any, base: Path) -> str:
    if not isinstance(value, str):
        raise _expected("a host name", value)
    try:
        return parse_hostname(value)
    except ValueError:
        raise _expected("a host name such as mail.example.com", value) from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _endpoints(default_port: int | None = None, ip_only: bool = False) -> Convert:
    """A list of "host:port" strings (a single string is taken as a list of one)."""
    what = "an IP address with optional :port" if ip_only else 'an address such as "0.0.0.0:25" or "[::]:25"'

    def one(text: Any) -> Endpoint:
        if not isinstance(text, str):
            raise _expected(what, text)
        try:
            endpoint = Endpoint.parse(text, default_port)
            if ip_only and not _is_ip(endpoint.host):
                raise ValueError("not an IP address")
        except ValueError as exc:
            raise _Bad(f"expected {what}, got {_show(text)} ({exc})") from None
        return endpoint

    def convert(value: Any, base: Path) -> tuple[Endpoint, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise _expected("an array of addresses", value)
        return tuple(one(item) for item in items)

    return convert


def _setting(default: Any, convert: Convert | None = None, **meta: Any) -> Any:
    """A dataclass field with an optional converter; without one, the field's annotation picks it."""
    return field(default=default, metadata={"convert": convert, **meta})


# --------------------------------------------------------------------------------------------------
# The tables.


def _listen(*texts: str) -> Any:
    return _setting(tuple(Endpoint.parse(t) for t in texts), _endpoints())


LISTENERS = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "managesieve", "http", "web",
             "https")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _listener_names(value: Any, base: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _expected("an array of listener names", value)
    for name in value:
        if name not in LISTENERS:
            close = difflib.get_close_matches(name, LISTENERS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _Bad(f"{_show(name)} is not a listener{hint}; the listeners are {', '.join(LISTENERS)}")
    return tuple(dict.fromkeys(value))


def _networks(value: Any, base: Path) -> tuple[Network, ...]:
    """A list of networks ("10.0.0.0/8", "2001:db8::/32") or single addresses ("192.0.2.10")."""
    if not isinstance(value, list):
        raise _expected('an array of networks such as "10.0.0.0/8"', value)
    found = []
    for text in value:
        try:
            found.append(ipaddress.ip_network(text if isinstance(text, str) else None, strict=True))  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise _Bad(f'expected a network such as "10.0.0.0/8", got {_show(text)} ({exc})') from None
    return tuple(found)


@dataclass(frozen=True)
class ListenConfig:
    """Where each service listens. A ``[listen]`` table in the file replaces all of these defaults:
    a service it does not name is not started."""

    smtp: tuple[Endpoint, ...] = _listen("0.0.0.0:25")
    submission: tuple[Endpoint, ...] = _listen("0.0.0.0:587")
    submissions: tuple[Endpoint, ...] = _listen("0.0.0.0:465")
    imap: tuple[Endpoint, ...] = _listen("0.0.0.0:143")
    imaps: tuple[Endpoint, ...] = _listen("0.0.0.0:993")
    pop3: tuple[Endpoint, ...] = _listen("0.0.0.0:110")
    pop3s: tuple[Endpoint, ...] = _listen("0.0.0.0:995")
    managesieve: tuple[Endpoint, ...] = _listen("0.0.0.0:4190")  # RFC 5804 1.8
    http: tuple[Endpoint, ...] = _listen("127.0.0.1:8080")
    # The public web ports, off unless named (another web server may own 80 and 443; quickstart names them).
    # web (80): ACME HTTP-01 challenges, everything else redirected to https. https (443): the admin and
    # account pages, the JSON API, autoconfig, MTA-STS policies, ACME TLS-ALPN-01; never /metrics.
    web: tuple[Endpoint, ...] = _setting((), _endpoints())
    https: tuple[Endpoint, ...] = _setting((), _endpoints())
    # Behind a load balancer (net/proxy.py): these listeners take the client's address from a PROXY
    # protocol header, which only sources in proxy_trusted may send (any other is closed unread).
    proxy_protocol: tuple[str, ...] = _setting((), _listener_names)
    proxy_trusted: tuple[Network, ...] = _setting((), _networks)
    proxy_timeout: float = 5.0

    @classmethod
    def _complete(cls, given: dict[str, Any], where: str) -> None:
        seen: dict[Endpoint, str] = {}
        for name in LISTENERS:
            given.setdefault(name, ())
            for endpoint in given[name]:
                # Two services on one address would fail at bind time with a far less helpful message.
                if endpoint in seen and endpoint.port != 0:
                    raise _Bad(f"{where}.{name}: {endpoint} is also used by {where}.{seen[endpoint]}")
                seen[endpoint] = name
        if given.get("proxy_protocol") and not given.get("proxy_trusted"):
            raise _Bad(f"{where}.proxy_trusted: missing; {where}.proxy_protocol needs the load balancers'"
                       " networks (a PROXY header from anyone else is refused)")

    def endpoints(self) -> dict[str, tuple[Endpoint, ...]]:
        """The listeners that have addresses, by name."""
        return {name: getattr(self, name) for name in LISTENERS if getattr(self, name)}


@dataclass(frozen=True)
class TLSConfig:
    """Certificate chain and private key (PEM). Neither: a self-signed pair is generated on first start."""

    cert: Path | None = field(default=None, metadata={"convert": _existing_file})
    key: Path | None = field(default=None, metadata={"convert": _existing_file})

    @classmethod
    def _complete(cls, given: dict[str, Any], where: str) -> None:
        if ("cert" in given) != ("key" in given):
            missing = "key" if "cert" in given else "cert"
            raise _Bad(f"{where}.{missing}: missing; {where}.cert and {where}.key must be given together")


@dataclass(frozen=True)
class DNSConfig:
    """Resolver settings. No nameservers means the system resolver (/etc/resolv.conf)."""

    nameservers: tuple[Endpoint, ...] = _setting((), _endpoints(default_port=53, ip_only=True))
    timeout: float = 5.0


def _percent_below_100(value: Any, base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 90:
        raise _expected("a percentage from 0 to 90", value)
    return value


CONNECTION_POOLS = ("smtp", "submission", "imap", "pop3", "managesieve")
"""The listeners with a ``<name>_connections`` and ``<name>_connections_per_ip`` limit (and http)."""


@dataclass(frozen=True)
class LimitsConfig:
    """A hard limit on everything a peer controls (ARCHITECTURE principle 8)."""

    max_message_size: int = _setting(DEFAULT_MAX_MESSAGE_SIZE, _size)
    max_recipients: int = 100
    # Per kind of listener (plaintext and TLS ports together); see net/limits.py and docs/security.md.
    smtp_connections: int = 500
    smtp_connections_per_ip: int = 50  # Postfix's smtpd_client_connection_count_limit
    submission_connections: int = 500
    submission_connections_per_ip: int = 50
    imap_connections: int = 2000
    imap_connections_per_ip: int = 20  # not yet logged in
    imap_connections_per_user_ip: int = 10  # Dovecot's mail_max_userip_connections
    pop3_connections: int = 500
    pop3_connections_per_ip: int = 20  # not yet logged in
    managesieve_connections: int = 200
    managesieve_connections_per_ip: int = 10  # not yet logged in
    managesieve_connections_per_user_ip: int = 5
    http_connections: int = 100
    reserved_for_users: int = _setting(10, _percent_below_100)
    # Older names: when given, the default of every listener's limit above that is not.
    max_connections: int | None = None
    max_connections_per_ip: int | None = None
    # RFC 5321 4.5.3.1.4 and RFC 2449 both promise peers at least 512 octets per command line.
    max_line_length: int = _setting(4096, minimum=512)
    max_command_errors: int = 10
    smtp_timeout: int = 300  # RFC 5321 4.5.3.2.7: at least 5 minutes
    imap_timeout: int = 1800  # RFC 9051 5.4: at least 30 minutes
    imap_login_timeout: int = 60  # RFC 9051 5.4 sets no minimum before login
    pop3_timeout: int = 600  # RFC 1939 3: at least 10 minutes
    transfer_timeout: int = 300
    min_transfer_rate: int = 1024  # bytes per second; Postfix's smtpd_min_data_rate is 500
    send_timeout: int = 300
    buffer_memory: int = _setting(256 * MiB, _size)
    imap_max_literal: int = _setting(DEFAULT_MAX_MESSAGE_SIZE, _size)
    # RFC 5464 4.1: a server must take values of at least 1,024 octets and at least 10 entries.
    imap_metadata_max_size: int = _setting(64 * 1024, minimum=1024)
    imap_metadata_max_entries: int = _setting(100, minimum=10)
    auth_failures_per_ip: int = 10
    max_header_size: int = _setting(256 * 1024, _size)  # a message's header section, over SMTP
    max_header_lines: int = 5000

    @classmethod
    def _complete(cls, given: dict[str, Any], where: str) -> None:
        # An APPEND literal is a whole message: a smaller literal limit would refuse mail we accept by SMTP.
        if "max_message_size" in given:
            given.setdefault("imap_max_literal", given["max_message_size"])
        for pool in CONNECTION_POOLS:
            if "max_connections" in given:
                given.setdefault(f"{pool}_connections", given["max_connections"])
            if "max_connections_per_ip" in given:
                given.setdefault(f"{pool}_connections_per_ip", given["max_connections_per_ip"])


def _non_negative_number(value: Any, base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise _expected("a number of at least 0", value)
    return float(value)


@dataclass(frozen=True)
class AuthConfig:
    """Logins on every protocol (docs/security.md, Authentication): the throttle, the verified-credentials
    cache and the password hashes. ``limits.auth_failures_per_ip`` is the per-IP limit."""

    failure_window: int = 900
    failure_delay: float = _setting(1.0, _non_negative_number)
    max_failure_delay: float = _setting(5.0, _non_negative_number)
    account_failures: int = 10
    account_delay: float = _setting(1.0, _non_negative_number)
    max_account_delay: float = _setting(15.0, _non_negative_number)
    trusted_network_days: int = 30
    cache_ttl: int = _setting(900, minimum=0)
    cache_size: int = _setting(10_000, minimum=0)
    argon2_memory: int = _setting(19 * MiB, _size)
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    scram_iterations: int = _setting(600_000, minimum=4096)  # RFC 7677 3: "SHOULD be at least 4096"

    @classmethod
    def _complete(cls, given: dict[str, Any], where: str) -> None:
        # argon2 needs at least 8 KiB per lane (RFC 9106 3.1)
        memory, lanes = given.get("argon2_memory", cls.argon2_memory), given.get("argon2_parallelism", 1)
        if memory < 8 * 1024 * lanes:
            raise _Bad(f"{where}.argon2_memory: expected at least {8 * lanes}K for {lanes} lane(s), got {memory}")


@dataclass(frozen=True)
class LogConfig:
    level: str = _setting("info", _choice(LOG_LEVELS))
    format: str = _setting("kv", _choice(LOG_FORMATS))


def _flag(value: Any, base: Path) -> bool:
    if not isinstance(value, bool):
        raise _expected("true or false", value)
    return value


def _text(value: Any, base: Path) -> str:
    if not isinstance(value, str):
        raise _expected("a string", value)
    return value


def _relay(value: Any, base: Path) -> Endpoint | None:
    if value == "":
        return None
    if not isinstance(value, str):
        raise _expected('a host with optional port, such as "smtp.example.net:587"', value)
    try:
        return Endpoint.parse(value, default_port=25)
    except ValueError as exc:
        raise _Bad(f"expected a host with optional port, got {_show(value)} ({exc})") from None


def _routes(value: Any, base: Path) -> tuple[tuple[str, Endpoint], ...]:
    """A table of destination domain = "relay host[:port]"."""
    if not isinstance(value, dict):
        raise _expected('a table such as { "example.net" = "relay.example.net:587" }', value)
    routes = []
    for domain, target in value.items():
        relay = _relay(target, base)
        if relay is not None:
            routes.append((domain.lower().rstrip("."), relay))
    return tuple(routes)


@dataclass(frozen=True)
class QueueConfig:
    """The outbound queue: retry schedule (seconds), delay notice, expiry, concurrency."""

    retry_first: int = 300
    retry_max: int = 4 * 3600
    backoff: float = 2.0
    delay_notice: int = 4 * 3600
    max_age: int = 5 * 86400
    workers: int = 20
    per_domain: int = 4
    lease: int = 3600
    poll_interval: float = 5.0
    tls_reports: bool = _setting(True, _flag)


def _source_address(value: Any, version: int) -> str:
    """An address of this host to send from: an IPv4 (``source_ipv4``) or IPv6 (``source_ipv6``) one."""
    if value == "":
        return ""
    try:
        address = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise _expected(f"an IPv{version} address", value)
    return str(address)


@dataclass(frozen=True)
class OutboundConfig:
    """How the queue reaches other servers: port, trust store, smarthosts, TLS policies."""

    smtp_port: int = 25
    ca_file: Path | None = field(default=None, metadata={"convert": _existing_file})
    relay: Endpoint | None = field(default=None, metadata={"convert": _relay})
    relay_username: str = _setting("", _text)
    relay_password: str = _setting("", _text)
    relay_tls: str = _setting("starttls", _choice(("starttls", "implicit", "none")))
    routes: tuple[tuple[str, Endpoint], ...] = _setting((), _routes)
    connect_timeout: float = 30.0
    mta_sts_port: int = 443
    mta_sts: bool = _setting(True, _flag)
    dane: bool = _setting(True, _flag)
    tls_memory: bool = _setting(True, _flag)
    """Hold each destination domain to the best TLS it was seen with (outbound/tls_memory.py)."""
    source_ipv4: str = _setting("", lambda value, base: _source_address(value, 4))
    source_ipv6: str = _setting("", lambda value, base: _source_address(value, 6))


def _optional_ip(value: Any, base: Path) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not _is_ip(value):
        raise _expected("an IP address", value)
    return str(ipaddress.ip_address(value))


_ACTIONS = ("accept", "junk", "reject")


def _local_part(value: Any, base: Path) -> str:
    """The part of an address before the @ (RFC 5321 Dot-string), lower case."""
    if not isinstance(value, str) or not DOT_STRING.fullmatch(value) or len(value.encode()) > MAX_LOCAL_PART:
        raise _expected('the part of an address before the @, such as "postmaster"', value)
    return value.lower()


@dataclass(frozen=True)
class PolicyConfig:
    """Inbound sender authentication on the MX (SPF, DKIM, DMARC, ARC) and what we publish (MTA-STS).

    Each ``*_reject``/``*_quarantine``/``*_without_dmarc`` knob says what to do with such a message:
    "accept" (deliver to INBOX), "junk" (deliver to Junk) or "reject" (550 5.7.1)."""

    check: bool = _setting(True, _flag)
    spf_temperror: str = _setting("tempfail", _choice(("tempfail", "accept")))
    dmarc_temperror: str = _setting("tempfail", _choice(("tempfail", "accept")))
    dmarc_reject: str = _setting("reject", _choice(_ACTIONS))
    dmarc_quarantine: str = _setting("junk", _choice(_ACTIONS))
    spf_fail_without_dmarc: str = _setting("junk", _choice(_ACTIONS))
    spf_softfail_without_dmarc: str = _setting("accept", _choice(_ACTIONS))
    mta_sts_mode: str = _setting("testing", _choice(("testing", "enforce", "none")))
    mta_sts_max_age: int = 604800
    public_ip: str = _setting("", _optional_ip)
    dmarc_reports: bool = _setting(True, _flag)
    reports_to: str = _setting("postmaster", _local_part)
    received_reports: bool = _setting(True, _flag)
    received_report_max_size: int = _setting(10 * MiB, _size)


def _store_url(value: Any, base: Path) -> str:
    """``""`` (the embedded SQLite store in data_dir) or postgresql://user:password@host:port/database."""
    if not isinstance(value, str):
        raise _expected("a postgresql:// URL", value)
    if value == "":
        return value
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise _Bad(f"expected postgresql://user:password@host:port/database, got scheme {parsed.scheme or '(none)'!r}")
    try:
        parsed.port  # noqa: B018 (reading it checks it)
    except ValueError as exc:
        raise _Bad(f"bad port in the URL ({exc})") from None
    if not parsed.hostname or not parsed.path.strip("/"):
        raise _Bad("expected postgresql://user:password@host:port/database (a host and a database name)")
    return value


def check_store_url(text: str) -> str:
    """A PostgreSQL URL as ``[store] url`` takes it (for the CLI); ValueError with the reason."""
    if not text:
        raise ValueError("expected postgresql://user:password@host:port/database")
    return _store_url(text, Path())


@dataclass(frozen=True)
class StoreConfig:
    """Where mail is kept. No ``url``: the embedded SQLite store in ``data_dir``. A PostgreSQL URL: that
    database, which several Pillarbox nodes may share (docs/store.md)."""

    url: str = _setting("", _store_url)
    pool_size: int = _setting(20, minimum=2)
    min_free_space: int = _setting(DEFAULT_MIN_FREE_SPACE, _size_or_zero)
    """SQLite: new mail is refused when it would leave less free in ``data_dir`` (``store/reserve.py``);
    PostgreSQL watches its own disk (a full one refuses writes, which become StorageFull)."""
    flag_flush_delay: float = _setting(DEFAULT_FLAG_FLUSH_DELAY, _seconds_or_zero)
    """SQLite: flag changes (and \\Recent marks, search-index rows) become durable with the next flush, at the
    latest this many seconds later; 0: each is flushed before its reply. PostgreSQL commits each before its reply."""


_FROM_RULES = ("owned", "any")


def _rules_by_domain(value: Any, base: Path) -> tuple[tuple[str, str], ...]:
    """A table of domain = "owned" or "any"."""
    if not isinstance(value, dict):
        raise _expected('a table such as { "lists.example.com" = "any" }', value)
    rules = []
    for domain, rule in value.items():
        try:
            name = normalize_domain(domain)
        except AddressError:
            raise _Bad(f"{json.dumps(domain)}: not a domain name") from None
        try:
            rules.append((name, _choice(_FROM_RULES)(rule, base)))
        except _Bad as exc:
            raise _Bad(f"{json.dumps(domain)}: {exc}") from None
    return tuple(rules)


@dataclass(frozen=True)
class SendersConfig:
    """What a logged-in user may write as the author of submitted mail (``policy/senders.py``): with
    "owned", every From: address and the Sender: address must be one the user may use (their own, an
    alias reaching them, or a grant); "any" skips that check. Per domain of the logged-in user."""

    from_header: str = _setting("owned", _choice(_FROM_RULES))
    from_header_by_domain: tuple[tuple[str, str], ...] = _setting((), _rules_by_domain)


@dataclass(frozen=True)
class AccountsConfig:
    """Rules for account credentials (``auth/passwords.check_password``)."""

    password_min_length: int = 8  # NIST SP 800-63B 5.1.1.1: at least 8 characters


@dataclass(frozen=True)
class WebConfig:
    """The web pages and the JSON API (``web/``)."""

    session_lifetime: int = field(default=8 * 3600, metadata={"minimum": 60})
    """Seconds a web login lasts (the session cookie and its row in the store)."""
    session_idle: int = field(default=3600, metadata={"minimum": 60})
    """Seconds without a request after which a web session ends."""
    dns_status_ttl: int = field(default=3600, metadata={"minimum": 60})
    """Seconds the dashboard shows a domain's DNS check before checking again (in the background)."""


_DNSBL_RE = re.compile(r"(?P<zone>[^=*\s]+)(?:=(?P<pattern>[^*\s]+))?(?:\*(?P<weight>-?[0-9]+))?\Z")
_OCTET = re.compile(r"\[[0-9]+\.\.[0-9]+\]|[^.]+")
_OCTET_RANGE = re.compile(r"\[([0-9]{1,3})\.\.([0-9]{1,3})\]\Z")


@dataclass(frozen=True)
class DNSListSite:
    """One ``[antispam] dnsbl`` entry: ``zone[=answer pattern][*weight]`` (Postfix postscreen's syntax).

    The pattern says which answers count (each of the four octets a number or ``[low..high]``); none:
    any 127.0.0.0/8 answer. A negative weight makes it an allowlist (a DNSWL)."""

    zone: str
    pattern: tuple[tuple[int, int], ...] | None = None
    weight: int = 1

    def matches(self, answer: str) -> bool:
        try:
            octets = [int(part) for part in answer.split(".")]
        except ValueError:
            return False
        if len(octets) != 4:
            return False
        if self.pattern is None:
            return octets[0] == 127
        return all(low <= octet <= high for octet, (low, high) in zip(octets, self.pattern, strict=True))


def _answer_pattern(text: str) -> tuple[tuple[int, int], ...]:
    parts = _OCTET.findall(text)
    if len(parts) != 4 or ".".join(parts) != text:
        raise ValueError("an answer pattern has four octets, e.g. 127.0.0.[2..11]")
    pattern = []
    for part in parts:
        ranged = _OCTET_RANGE.match(part)
        if ranged:
            low, high = int(ranged[1]), int(ranged[2])
        elif part.isascii() and part.isdigit():
            low = high = int(part)
        else:
            low, high = 1, 0
        if not low <= high <= 255:
            raise ValueError(f"not an octet or [low..high] range: {part!r}")
        pattern.append((low, high))
    return tuple(pattern)


def _dnsbl_sites(value: Any, base: Path) -> tuple[DNSListSite, ...]:
    """A list of "zone[=pattern][*weight]" strings, e.g. ["zen.example*2", "dnswl.example=127.0.[0..255].[1..3]*-2"]."""
    if not isinstance(value, list):
        raise _expected('an array such as ["zen.example*2"]', value)
    sites = []
    for item in value:
        match = _DNSBL_RE.match(item) if isinstance(item, str) else None
        try:
            if match is None:
                raise ValueError("expected zone[=pattern][*weight]")
            zone = parse_hostname(match["zone"])
            pattern = _answer_pattern(match["pattern"]) if match["pattern"] else None
        except ValueError as exc:
            raise _Bad(f"{_show(item)}: {exc}") from None
        sites.append(DNSListSite(zone, pattern, int(match["weight"] or 1)))
    return tuple(sites)


def _networks(value: Any, base: Path) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A list of networks ("192.0.2.0/24", "2001:db8::/32") or single addresses."""
    if not isinstance(value, list):
        raise _expected('an array such as ["192.0.2.0/24"]', value)
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except (TypeError, ValueError):
            raise _expected("a network such as 192.0.2.0/24 or an IP address", item) from None
    return tuple(networks)


def _seconds(value: Any, base: Path) -> float:
    """Seconds, where 0 means "off"."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise _expected("a number of seconds (0 or more)", value)
    return float(value)


def _count_or_zero(value: Any, base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _expected("a number (0: no limit)", value)
    return value


def _probability(value: Any, base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise _expected("a number between 0 and 1, such as 0.95", value)
    return float(value)


def _http_url(value: Any, base: Path) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not re.match(r"https?://[^/\s]+(/\S*)?\Z", value):
        raise _expected('an http:// URL such as "http://127.0.0.1:11333", or ""', value)
    return value.rstrip("/")


@dataclass(frozen=True)
class AntispamConfig:
    """Keeping spam out (``antispam/``, docs/antispam.md): connection screening and greylisting on port 25,
    the content filter (built-in classifier, rspamd), learning, per-user lists and sending limits."""

    pregreet_delay: float = _setting(1.0, _seconds)
    dnsbl: tuple[DNSListSite, ...] = _setting((), _dnsbl_sites)
    dnsbl_threshold: int = _setting(1, minimum=1)
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = _setting((), _networks)
    greylist: bool = _setting(False, _flag)
    greylist_delay: int = _setting(300, minimum=0)
    greylist_retry_window: int = 2 * 86400
    greylist_pass_count: int = 5
    greylist_max_age: int = 35 * 86400
    classifier: bool = _setting(True, _flag)
    junk_threshold: float = _setting(0.95, _probability)
    classifier_max_tokens: int = _setting(100_000, minimum=1000)
    rspamd: str = _setting("", _http_url)
    rspamd_controller: str = _setting("", _http_url)
    rspamd_password: str = _setting("", _text)
    rspamd_timeout: float = 10.0
    rspamd_failure: str = _setting("accept", _choice(("accept", "tempfail")))
    learn_interval: float = 5.0
    max_messages_per_hour: int = _setting(300, _count_or_zero)
    max_recipients_per_hour: int = _setting(1000, _count_or_zero)
    max_bounces_per_hour: int = _setting(50, _count_or_zero)
    hold_suspects: bool = _setting(False, _flag)


def _address(value: Any, base: Path) -> str:
    if value == "":
        return ""
    if isinstance(value, str):
        try:
            return mailbox_address(value)
        except AddressError:
            pass
    raise _expected("a mail address such as hostmaster@example.com", value)


def _url(value: Any, base: Path) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not re.match(r"https://[^\s/]+(/\S*)?\Z", value):
        raise _expected("an https:// URL", value)
    return value


@dataclass(frozen=True)
class ACMEConfig:
    """Certificates from an ACME CA (RFC 8555), e.g. Let's Encrypt; off while ``directory`` is empty.
    ``ca_file`` trusts a private ACME server's HTTPS certificate (as ``[outbound] ca_file`` does for peers)."""

    directory: str = _setting("", _url)
    email: str = _setting("", _address)
    ca_file: Path | None = field(default=None, metadata={"convert": _existing_file})


LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"


def _default_hostname() -> str:
    try:
        return parse_hostname(socket.getfqdn())
    except (ValueError, OSError):
        return "localhost"  # getfqdn can return names we would refuse in a file (underscores, "")


@dataclass(frozen=True)
class SieveConfig:
    """Server-side filtering (docs/sieve.md): the bounds of RFC 5228 10 and of ManageSieve (RFC 5804)."""

    max_script_size: int = _setting(65_536, _size)
    max_scripts: int = 16
    max_actions: int = 32
    max_redirects: int = 4
    max_steps: int = 200_000
    """The CPU limit, in work units: one per command or test, one per 256 characters compared."""
    max_include_depth: int = 10
    max_includes: int = 32
    vacation_min_days: int = 1
    vacation_max_days: int = 90
    duplicate_max_days: int = 30
    srs_max_age_days: int = 21
    max_delivered_to: int = 10
    managesieve_timeout: int = 1800


@dataclass(frozen=True)
class Config:
    hostname: str = field(default_factory=_default_hostname, metadata={"convert": _hostname})
    postmaster: str = _setting("", _address)
    """Who reads postmaster@ and abuse@ of a domain added without ``--postmaster`` (RFC 5321 4.5.1, RFC 2142)."""
    data_dir: Path = field(default_factory=default_data_dir)
    workers: int = field(default=0, metadata={"minimum": 0})
    """Server processes; 0 (the default): one per CPU, at most ``workers.MAX_AUTO_WORKERS``."""
    event_loop: str = _setting("auto", _choice(("auto", "uvloop", "asyncio")))
    listen: ListenConfig = field(default_factory=ListenConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    dns: DNSConfig = field(default_factory=DNSConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    log: LogConfig = field(default_factory=LogConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    acme: ACMEConfig = field(default_factory=ACMEConfig)
    senders: SendersConfig = field(default_factory=SendersConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    antispam: AntispamConfig = field(default_factory=AntispamConfig)
    sieve: SieveConfig = field(default_factory=SieveConfig)
    # The file it came from (None for the built-in defaults); "internal": not a key of the file.
    source: Path | None = field(default=None, metadata={"internal": True})
    node: str = field(default="", metadata={"internal": True})
    """The ``[nodes.NAME]`` table this server was started with (``serve --node NAME``), "" for none."""

    @classmethod
    def _complete(cls, given: dict[str, Any], where: str) -> None:
        acme, listen = given.get("acme"), given.get("listen", ListenConfig())
        if acme is not None and acme.directory and not (listen.web or listen.https):
            raise _Bad("acme.directory: the CA validates names on port 443 or 80: add listen.https (TLS-ALPN-01)"
                       " or listen.web (HTTP-01)")


# --------------------------------------------------------------------------------------------------
# The generic loader.

_BY_TYPE: dict[Any, Convert] = {int: _integer(1), float: _positive_number, Path: _path}
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+\Z")


def _key(where: str, name: str) -> str:
    shown = name if _BARE_KEY_RE.match(name) else json.dumps(name)  # a quoted TOML key may hold anything
    return f"{where}.{shown}" if where else shown


def _converter(f: Field[Any], hint: Any) -> Convert:
    if f.metadata.get("convert"):
        return f.metadata["convert"]
    if "minimum" in f.metadata:
        return _integer(f.metadata["minimum"])
    options = [arg for arg in typing.get_args(hint) if arg is not type(None)] or [hint]
    if len(options) == 1 and options[0] in _BY_TYPE:
        return _BY_TYPE[options[0]]
    raise TypeError(f"no converter for {f.name}: {hint}")  # a programming error, found by the tests


def _build(cls: type, raw: Any, base: Path, where: str = "") -> Any:
    """Build dataclass ``cls`` from the TOML table ``raw`` found at dotted key ``where``."""
    if not isinstance(raw, dict):
        raise _Bad(f"{where}: {_expected('a table', raw)}")
    settable = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    given: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in settable:
            raise _Bad(_unknown(where, name, settable))
        key = _key(where, name)
        if is_dataclass(hints[name]):
            given[name] = _build(hints[name], value, base, key)
            continue
        try:
            given[name] = _converter(settable[name], hints[name])(value, base)
        except _Bad as exc:
            raise _Bad(f"{key}: {exc}") from None
    if hasattr(cls, "_complete"):
        cls._complete(given, where)
    return cls(**given)


def _unknown(where: str, name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {_key(where, close[0])}?)" if close else ""
    return f"unknown key {_key(where, name)}{hint}"


# --------------------------------------------------------------------------------------------------
# Finding and reading the file.


def _find(path: Path | str | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read. One the user named must exist; the default file (``paths``) is used only if it does."""
    if path is not None:
        return Path(path)
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR])
    default = default_config_path(environ)
    return default if default.is_file() else None


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
        return tomllib.loads(text)
    except FileNotFoundError:
        raise _Bad("no such file") from None
    except OSError as exc:
        raise _Bad(f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise _Bad(f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise _Bad(f"TOML syntax error: {exc}") from None


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------------
# Nodes: several servers on one store (docs/cluster.md) read one file; [nodes.NAME] says what differs.

NODE_TABLES = ("listen",)
"""What a ``[nodes.NAME]`` table may hold: the rest of the file is every node's."""


def _for_node(config: Config, doc: dict[str, Any], nodes: Any, node: str | None, base: Path) -> Config:
    """``config`` as node ``node`` sees it; every ``[nodes.NAME]`` table is checked, whichever node runs."""
    if not isinstance(nodes, dict):
        raise _Bad(f"nodes: {_expected('a table of [nodes.NAME] tables', nodes)}")
    views = {name: _node_listen(doc.get("listen"), name, table, base) for name, table in nodes.items()}
    if node is None:
        return config
    if node not in views:
        known = ", ".join(_key("nodes", name) for name in views) or "none"
        raise _Bad(f"{_key('nodes', node)}: no such table for serve --node {node} (the file has: {known})")
    listen = views[node] or config.listen
    Config._complete({"acme": config.acme, "listen": listen}, _key("nodes", node))
    return replace(config, listen=listen, node=node)


def _node_listen(shared: Any, name: str, table: Any, base: Path) -> ListenConfig | None:
    """The ``[listen]`` of node ``name``: its own keys over the file's; None when it changes nothing."""
    where = _key("nodes", name)
    if not isinstance(table, dict):
        raise _Bad(f"{where}: {_expected('a table', table)}")
    for key in table:
        if key not in NODE_TABLES:
            raise _Bad(f"{_key(where, key)}: only {', '.join(NODE_TABLES)} may differ per node;"
                       " every other setting is shared by all nodes")
    if "listen" not in table:
        return None
    if not isinstance(table["listen"], dict):
        raise _Bad(f"{where}.listen: {_expected('a table', table['listen'])}")
    return _build(ListenConfig, {**(shared or {}), **table["listen"]}, base, f"{where}.listen")


def load_config(
    path: Path | str | None = None, environ: Mapping[str, str] | None = None, node: str | None = None,
) -> Config:
    """Read the configuration: ``path``, else ``$PILLARBOX_CONFIG``, else the default file (``paths``) if
    it exists, else the built-in defaults; ``node``: as the ``[nodes.NODE]`` table of the file changes it.
    Raises ConfigError with one line naming the file and the key."""
    found = _find(path, os.environ if environ is None else environ)
    if found is None:
        if node is not None:
            raise ConfigError(f"serve --node {node}: no configuration file with a [nodes.{node}] table")
        return Config()
    try:
        doc = _read(found)
        source = Path(os.path.abspath(found))
        base = source.parent  # relative paths in a file mean "next to this file"
        nodes = doc.pop("nodes", {})
        config = _for_node(_build(Config, doc, base), doc, nodes, node, base)
    except _Bad as exc:
        raise ConfigError(_one_line(f"{found}: {exc}")) from None
    return replace(config, source=source)
