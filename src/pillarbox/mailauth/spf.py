"""SPF (RFC 7208): may this IP address send mail for this domain?

The problem. A domain publishes, in one TXT record, the hosts allowed to send mail with its name in
MAIL FROM (or, for the null sender, in HELO): ``v=spf1 ip4:192.0.2.0/24 include:_spf.example.net
mx -all``. A receiver walks those terms left to right until one matches the client's address, and
the match's qualifier is the answer: pass, fail, softfail or neutral.

The naive way is a recursive walk that looks things up as it meets them. That is most of it, but a
record is data controlled by the sender, so the walk must be bounded: RFC 7208 4.6.4 allows at most
10 terms that cause DNS lookups (include, a, mx, ptr, exists, redirect) over the whole evaluation,
includes and redirects counted with their targets; at most 10 address lookups per ``mx``; only the
first 10 names of a ``ptr``; and at most 2 "void" lookups (NXDOMAIN or an empty answer) — past any of
these the result is ``permerror``. A lookup that could not be answered (SERVFAIL, timeout) makes the
result ``temperror``: never a pass or fail we did not really find (2.6.7). The whole evaluation is
also time-bounded (4.6.4 suggests 20 seconds).

Where the RFC is vague or leaves us a choice:
- Void lookups are counted for the lookups a term makes on its own target: a, mx (the MX query), ptr
  (the PTR query), exists, and the TXT query of include/redirect. The address lookups of MX and PTR
  names are not counted (like pyspf and most implementations).
- Explanations (``exp=``) are expanded for a ``fail``; any trouble fetching one just means no
  explanation (6.2).
- Unknown modifiers are ignored; a modifier given twice (redirect, exp) is a permerror (6).
- ``redirect`` is ignored when the record has an ``all`` mechanism (6.1: all always matches first).

Macros (7) are expanded with their transformers (digits, ``r``, delimiters) and URL escaping for the
upper-case letters. ``c``, ``r`` and ``t`` are allowed in explanation text only (7.3): in any
domain-spec of the record (mechanisms, ``redirect=``, the ``exp=`` target name itself) they are a
syntax error, so the record is a ``permerror`` even when an earlier term matched (4.6: "If there are
any syntax errors anywhere in the record, check_host() returns immediately"; the RFC 7208 test
suite's exp-only-macro-char). Unknown modifiers are never expanded and keep the grammar's letters.
"""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from pillarbox.dns.resolver import DNSTemporaryError, Resolver

MAX_DNS_TERMS = 10  # 4.6.4
MAX_VOID_LOOKUPS = 2  # 4.6.4
MAX_MX_NAMES = 10  # 4.6.4
MAX_PTR_NAMES = 10  # 4.6.4 / 5.5
EVALUATION_TIMEOUT = 20.0  # 4.6.4: "at least 20 seconds" before giving up is suggested


class SPFResult(enum.Enum):
    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


QUALIFIERS = {"+": SPFResult.PASS, "-": SPFResult.FAIL, "~": SPFResult.SOFTFAIL, "?": SPFResult.NEUTRAL}


@dataclass(frozen=True)
class SPFVerdict:
    result: SPFResult
    domain: str
    """The domain checked (the MAIL FROM domain, or the HELO name)."""
    identity: str
    """"mailfrom" or "helo" (RFC 7208 2.3/2.4)."""
    reason: str = ""
    explanation: str = ""


class SPFError(Exception):
    """A result that ends the evaluation at once: permerror (syntax, limits) or temperror (DNS)."""

    def __init__(self, result: SPFResult, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


def _perm(reason: str) -> SPFError:
    return SPFError(SPFResult.PERMERROR, reason)


# -- the record's grammar (RFC 7208 4.5, 12) ------------------------------------------------------------

_VERSION = re.compile(r"v=spf1(?: |\Z)", re.IGNORECASE)
_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9\-_.]*)=(.*)\Z", re.DOTALL)
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9\-_.]*)(?:([:/])(.*))?\Z", re.DOTALL)
_IP4_CIDR = r"(?:/(0|[1-9][0-9]?))"
_IP6_CIDR = r"(?:/(0|[1-9][0-9]{0,2}))"
_DUAL_CIDR = re.compile(rf"(.*?){_IP4_CIDR}?(?:/{_IP6_CIDR})?\Z", re.DOTALL)
_TOPLABEL = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9]+\Z|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9]\Z")
_MACRO = re.compile(r"%(?:\{([A-Za-z])([0-9]*)(r?)([.\-+,/_=]*)\}|(.))", re.DOTALL | re.IGNORECASE)
_MACRO_LITERAL = re.compile(r"[\x21-\x24\x26-\x7e]")
DOMAIN_MACRO_LETTERS = "slodiphv"  # 7.3
EXPLANATION_MACRO_LETTERS = DOMAIN_MACRO_LETTERS + "crt"  # 7.3: "only allowed in "exp" text"


@dataclass(frozen=True)
class Term:
    qualifier: SPFResult
    name: str
    domain_spec: str | None = None
    ip4_cidr: int = 32
    ip6_cidr: int = 128
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


@dataclass(frozen=True)
class Record:
    terms: tuple[Term, ...]
    redirect: str | None = None
    exp: str | None = None


def parse_record(text: str) -> Record:
    """Parse one SPF record (starting with "v=spf1"); raises SPFError(permerror) on a syntax error."""
    if not _VERSION.match(text):
        raise _perm("not an SPF record")
    terms: list[Term] = []
    modifiers: dict[str, str] = {}
    for token in text[6:].split(" "):
        if not token:
            continue
        mechanism = _MECHANISM.match(token)
        modifier = _MODIFIER.match(token)
        if modifier:
            name = modifier.group(1).lower()
            if name in ("redirect", "exp"):
                if name in modifiers:
                    raise _perm(f"{name}= given twice")
                _check_domain_spec(modifier.group(2))
            else:
                _check_macro_string(modifier.group(2), EXPLANATION_MACRO_LETTERS)
            modifiers[name] = modifier.group(2)
        elif mechanism and mechanism.group(2).lower() in _MECHANISMS:
            terms.append(_parse_mechanism(token, mechanism))
        else:
            raise _perm(f"unknown mechanism {token!r}")
    return Record(tuple(terms), modifiers.get("redirect"), modifiers.get("exp"))


def _parse_mechanism(token: str, match: re.Match[str]) -> Term:
    qualifier = QUALIFIERS[match.group(1) or "+"]
    name = match.group(2).lower()
    sep, rest = match.group(3), match.group(4)
    argument = None if sep is None else (rest if sep == ":" else "/" + rest)
    if name == "all":
        if argument is not None:
            raise _perm(f"bad all mechanism {token!r}")
        return Term(qualifier, name)
    if name in ("ip4", "ip6"):
        if sep != ":":
            raise _perm(f"{name} needs an address: {token!r}")
        return Term(qualifier, name, network=_parse_network(name, argument or ""))
    if name in ("a", "mx"):
        spec, ip4, ip6 = _split_dual_cidr(token, argument, colon=sep == ":")
        return Term(qualifier, name, spec, ip4, ip6)
    # include, exists, ptr
    if argument is not None and sep != ":":
        raise _perm(f"bad {name} mechanism {token!r}")
    if name in ("include", "exists") and not argument:
        raise _perm(f"{name} needs a domain: {token!r}")
    if argument is not None:
        _check_domain_spec(argument)
    return Term(qualifier, name, argument)


def _parse_network(name: str, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    address, slash, length = text.partition("/")
    pattern = _IP4_CIDR if name == "ip4" else _IP6_CIDR
    if slash and not re.fullmatch(pattern, "/" + length):
        raise _perm(f"bad CIDR length in {name}:{text}")
    try:
        ip = ipaddress.IPv4Address(address) if name == "ip4" else ipaddress.IPv6Address(address)
        maximum = 32 if name == "ip4" else 128
        bits = int(length) if slash else maximum
        if bits > maximum:
            raise ValueError("prefix too long")
        return ipaddress.ip_network(f"{ip}/{bits}", strict=False)
    except ValueError:
        raise _perm(f"bad address in {name}:{text}") from None


def _split_dual_cidr(token: str, argument: str | None, colon: bool) -> tuple[str | None, int, int]:
    if argument is None:
        return None, 32, 128
    match = _DUAL_CIDR.match(argument)
    assert match is not None
    spec, ip4, ip6 = match.group(1), match.group(2), match.group(3)
    if colon and not spec:  # a = "a" [ ":" domain-spec ] [ dual-cidr-length ]: ":" needs a domain-spec
        raise _perm(f"empty domain after ':' in {token!r}")
    if spec.startswith("/") or (argument.startswith("/") and spec):
        raise _perm(f"bad CIDR length in {token!r}")
    if (ip4 is not None and int(ip4) > 32) or (ip6 is not None and int(ip6) > 128):
        raise _perm(f"CIDR length out of range in {token!r}")
    if spec:
        _check_domain_spec(spec)
    return spec or None, int(ip4) if ip4 else 32, int(ip6) if ip6 else 128


def _check_macro_string(text: str, letters: str) -> None:
    """macro-string (7.1) whose macro letters are among ``letters``; raises permerror otherwise."""
    position = 0
    for match in _MACRO.finditer(text):
        _check_literal(text[position:match.start()])
        if match.group(1) is None and match.group(5) not in ("%", "_", "-"):
            raise _perm(f"bad macro in {text!r}")
        if match.group(1) is not None and match.group(1).lower() not in letters:
            raise _perm(f"macro letter %{{{match.group(1)}}} not allowed in {text!r}")
        position = match.end()
    _check_literal(text[position:])


def _check_literal(text: str) -> None:
    if "%" in text or any(not _MACRO_LITERAL.match(c) for c in text):
        raise _perm(f"bad character in {text!r}")


def _check_domain_spec(spec: str) -> None:
    """domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand."""
    _check_macro_string(spec, DOMAIN_MACRO_LETTERS)
    if spec.endswith("}"):
        return
    labels = (spec[:-1] if spec.endswith(".") else spec).split(".")
    if len(labels) < 2 or not _TOPLABEL.match(labels[-1]):
        raise _perm(f"bad domain {spec!r}")


# -- evaluation (RFC 7208 4, 5) -------------------------------------------------------------------------


@dataclass
class _Context:
    resolver: Resolver
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sender: str
    helo: str
    receiver: str
    now: float
    lookups: int = 0
    voids: int = 0
    validated_ptr: str | None = None
    _txt_cache: dict[str, list[bytes]] = field(default_factory=dict)

    def count_lookup(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_DNS_TERMS:
            raise _perm(f"more than {MAX_DNS_TERMS} DNS lookups")

    def count_void(self, found: list[object]) -> None:
        if not found:
            self.voids += 1
            if self.voids > MAX_VOID_LOOKUPS:
                raise _perm(f"more than {MAX_VOID_LOOKUPS} void lookups")


async def check_host(
    resolver: Resolver,
    ip: str,
    domain: str,
    sender: str,
    *,
    helo: str = "",
    identity: str = "mailfrom",
    receiver: str = "unknown",
    now: float | None = None,
    timeout: float = EVALUATION_TIMEOUT,
) -> SPFVerdict:
    """The check_host() function of RFC 7208 4: ``sender`` is the full MAIL FROM (or postmaster@HELO)."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    domain = domain.rstrip(".").lower()
    if "@" not in sender:
        sender = f"postmaster@{domain}"
    elif sender.startswith("@"):
        sender = "postmaster" + sender
    context = _Context(resolver, address, sender, helo, receiver, time.time() if now is None else now)
    if not _is_fqdn(domain):
        return SPFVerdict(SPFResult.NONE, domain, identity, "not a domain name")
    try:
        async with asyncio.timeout(timeout):
            result, explanation = await _evaluate(context, domain, top=True)
    except SPFError as error:
        return SPFVerdict(error.result, domain, identity, error.reason)
    except TimeoutError:
        return SPFVerdict(SPFResult.TEMPERROR, domain, identity, "SPF evaluation timed out")
    reason = f"{ip} is {'not ' if result in (SPFResult.FAIL, SPFResult.SOFTFAIL) else ''}allowed"
    return SPFVerdict(result, domain, identity, reason, explanation)


def _is_fqdn(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) >= 2 and len(domain) <= 253 and all(0 < len(label) <= 63 for label in labels)


async def _txt(context: _Context, domain: str) -> list[bytes]:
    try:
        return await context.resolver.txt(domain)
    except DNSTemporaryError as exc:
        raise SPFError(SPFResult.TEMPERROR, f"DNS error looking up {domain}: {exc}") from None


def _find_record(domain: str, texts: list[bytes]) -> Record | None:
    """4.4/4.5: the one TXT record starting "v=spf1"; None when there is none."""
    records = [t.decode("utf-8", "replace") for t in texts if _VERSION.match(t.decode("utf-8", "replace"))]
    if len(records) > 1:
        raise _perm(f"{domain} publishes several SPF records")
    return parse_record(records[0]) if records else None


async def _evaluate(
    context: _Context, domain: str, top: bool = False, texts: list[bytes] | None = None
) -> tuple[SPFResult, str]:
    if texts is None:
        texts = await _txt(context, domain)
    record = _find_record(domain, texts)
    if record is None:
        return SPFResult.NONE, ""
    for term in record.terms:
        if await _matches(context, term, domain):
            explanation = ""
            if term.qualifier is SPFResult.FAIL and record.exp and top:
                explanation = await _explanation(context, record.exp, domain)
            return term.qualifier, explanation
    if record.redirect is not None and not any(t.name == "all" for t in record.terms):
        context.count_lookup()
        target = await _expand(context, record.redirect, domain)
        if not _is_fqdn(target):
            raise _perm(f"redirect to a bad domain {target!r}")
        texts = await _txt(context, target)
        context.count_void(texts)  # type: ignore[arg-type]
        found = await _evaluate(context, target, top=top, texts=texts)
        if found[0] is SPFResult.NONE:
            raise _perm(f"redirect target {target} has no SPF record")
        return found
    return SPFResult.NEUTRAL, ""


async def _matches(context: _Context, term: Term, domain: str) -> bool:
    name = term.name
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        assert term.network is not None
        return term.network.version == context.ip.version and context.ip in term.network
    context.count_lookup()
    target = await _expand(context, term.domain_spec, domain) if term.domain_spec else domain
    if name == "include":
        return await _include(context, target)
    if name == "a":
        return await _match_a(context, target, term, count_void=True)
    if name == "mx":
        return await _match_mx(context, target, term)
    if name == "ptr":
        return await _match_ptr(context, target)
    return await _match_exists(context, target)


async def _lookup(coroutine: object) -> list[str]:
    try:
        return await coroutine  # type: ignore[misc,no-any-return]
    except DNSTemporaryError as exc:
        raise SPFError(SPFResult.TEMPERROR, f"DNS error: {exc}") from None


async def _include(context: _Context, target: str) -> bool:
    """5.2: pass matches; fail/softfail/neutral do not; none is a permerror; errors propagate."""
    if not _is_fqdn(target):
        raise _perm(f"include of a bad domain {target!r}")
    texts = await _txt(context, target)
    context.count_void(texts)  # type: ignore[arg-type]
    result, _ = await _evaluate(context, target, texts=texts)
    if result is SPFResult.NONE:
        raise _perm(f"included domain {target} has no SPF record")
    return result is SPFResult.PASS


async def _addresses(context: _Context, host: str) -> list[str]:
    if context.ip.version == 4:
        return await _lookup(context.resolver.a(host))
    return await _lookup(context.resolver.aaaa(host))


def _in_cidr(context: _Context, addresses: list[str], term: Term) -> bool:
    bits = term.ip4_cidr if context.ip.version == 4 else term.ip6_cidr
    for text in addresses:
        try:
            network = ipaddress.ip_network(f"{text}/{bits}", strict=False)
        except ValueError:
            continue
        if network.version == context.ip.version and context.ip in network:
            return True
    return False


async def _match_a(context: _Context, target: str, term: Term, count_void: bool) -> bool:
    if not _is_fqdn(target):
        return False
    addresses = await _addresses(context, target)
    if count_void:
        context.count_void(addresses)  # type: ignore[arg-type]
    return _in_cidr(context, addresses, term)


async def _match_mx(context: _Context, target: str, term: Term) -> bool:
    if not _is_fqdn(target):
        return False
    try:
        records = await context.resolver.mx(target)
    except DNSTemporaryError as exc:
        raise SPFError(SPFResult.TEMPERROR, f"DNS error: {exc}") from None
    context.count_void(records)  # type: ignore[arg-type]
    if len(records) > MAX_MX_NAMES:
        raise _perm(f"{target} has more than {MAX_MX_NAMES} MX records")
    for record in sorted(records, key=lambda r: r.preference):
        if record.host and await _match_a(context, record.host, term, count_void=False):
            return True
    return False


async def _validated_names(context: _Context) -> list[str]:
    """5.5: the client's PTR names whose addresses include the client's address (errors: no names)."""
    try:
        names = await context.resolver.ptr(str(context.ip))
    except DNSTemporaryError:
        return []
    context.count_void(names)  # type: ignore[arg-type]
    validated = []
    for name in names[:MAX_PTR_NAMES]:
        try:
            addresses = await _addresses(context, name)
        except SPFError:
            continue
        if any(_same_ip(text, context.ip) for text in addresses):
            validated.append(name.rstrip(".").lower())
    return validated


def _same_ip(text: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


async def _match_ptr(context: _Context, target: str) -> bool:
    target = target.rstrip(".").lower()
    return any(n == target or n.endswith("." + target) for n in await _validated_names(context))


async def _match_exists(context: _Context, target: str) -> bool:
    if not _is_fqdn(target):
        return False
    found = await _lookup(context.resolver.a(target))
    context.count_void(found)  # type: ignore[arg-type]
    return bool(found)


async def _explanation(context: _Context, exp: str, domain: str) -> str:
    try:
        target = await _expand(context, exp, domain)
        texts = await context.resolver.txt(target)
        if len(texts) != 1:
            return ""
        text = texts[0].decode("ascii")
        for piece in text.split(" "):  # explain-string = *( macro-string / SP )
            _check_macro_string(piece, EXPLANATION_MACRO_LETTERS)
        return await _expand(context, text, domain, explanation=True)
    except (SPFError, DNSTemporaryError, UnicodeDecodeError):
        return ""


# -- macros (RFC 7208 7) ----------------------------------------------------------------------------


async def _expand(context: _Context, spec: str, domain: str, explanation: bool = False) -> str:
    out: list[str] = []
    position = 0
    for match in _MACRO.finditer(spec):
        out.append(spec[position:match.start()])
        position = match.end()
        if match.group(1) is None:
            out.append({"%": "%", "_": " ", "-": "%20"}[match.group(5)])
            continue
        letter, digits, reverse, delimiters = match.group(1), match.group(2), match.group(3), match.group(4)
        value = await _macro_value(context, letter.lower(), domain)
        out.append(_transform(value, digits, bool(reverse), delimiters, letter.isupper()))
    out.append(spec[position:])
    result = "".join(out)
    if explanation:
        return result
    return _truncate(result.rstrip("."))


def _transform(value: str, digits: str, reverse: bool, delimiters: str, escape: bool) -> str:
    parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
    if reverse:
        parts.reverse()
    if digits:
        count = int(digits)
        if count == 0:
            raise _perm("macro transformer of zero labels")
        parts = parts[-count:]
    joined = ".".join(parts)
    return urllib.parse.quote(joined, safe="-._~") if escape else joined


def _truncate(name: str) -> str:
    """7.3: over 253 characters, drop labels from the left until it fits."""
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


async def _macro_value(context: _Context, letter: str, domain: str) -> str:
    """The value of one macro letter (7.3); parsing let c, r and t through in explanations only."""
    local, _, sender_domain = context.sender.rpartition("@")
    ip = context.ip
    if letter == "s":
        return context.sender
    if letter == "l":
        return local
    if letter == "o":
        return sender_domain
    if letter == "d":
        return domain
    if letter == "i":
        if ip.version == 4:
            return str(ip)
        return ".".join(ip.exploded.replace(":", ""))
    if letter == "v":
        return "in-addr" if ip.version == 4 else "ip6"
    if letter == "h":
        return context.helo
    if letter == "p":
        return await _ptr_macro(context, domain)
    if letter == "c":
        return str(ip)
    if letter == "r":
        return context.receiver
    return str(int(context.now))  # "t"


async def _ptr_macro(context: _Context, domain: str) -> str:
    """7.3 "p": a validated name, preferring the target domain or a subdomain of it; else "unknown"."""
    if context.validated_ptr is None:
        names = await _validated_names(context)
        preferred = [n for n in names if n == domain or n.endswith("." + domain)]
        context.validated_ptr = (preferred or names or ["unknown"])[0]
    return context.validated_ptr
