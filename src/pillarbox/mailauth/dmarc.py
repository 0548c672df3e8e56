"""DMARC (RFC 7489): does the visible From domain stand behind this message, and what does it ask?

The problem. SPF authenticates the envelope sender and DKIM a signing domain, but the reader sees
neither: they see From. DMARC ties them together: a message passes when SPF or DKIM passes for a
domain *aligned* with the From domain, and the From domain's owner publishes, at
``_dmarc.<domain>``, what to do with a message that does not (``p=none|quarantine|reject``).

The procedure (6.6):
1. Take the RFC5322.From domain. One From field with one address is the normal case; a message with
   several From domains is evaluated against each and the strictest outcome wins (6.6.1 allows
   rejecting it; evaluating each avoids letting the laxest domain decide).
2. Policy discovery (6.6.3): TXT at ``_dmarc.<from domain>``; only records beginning with the
   version tag ``v=DMARC1`` count (steps 2 and 4: "v" *WSP "=" *WSP "DMARC1", the value exactly).
   Only when none of the From domain's records does, TXT at ``_dmarc.<organizational domain>``
   (step 3; 3.2, from the Public Suffix List, see ``psl``). A From domain that publishes DMARC
   records but no usable one (two of them, or one with an invalid ``p`` and no ``rua``) ends
   discovery with no policy: it is *not* a reason to look at the organizational domain, whose
   stricter policy would then reject mail its subdomain never asked to have rejected (step 5 and
   6). A DNS failure is a temporary error, never "no policy".
3. Alignment (3.1): relaxed (the default) compares organizational domains, strict the exact
   domains. SPF aligns through the domain SPF checked (MAIL FROM, or HELO for the null sender);
   DKIM through the ``d=`` of any signature that passed (a partial ``l=`` signature never counts).
4. The requested policy is ``p``, or ``sp`` when the record was found at the organizational domain
   for a subdomain. ``pct`` (6.6.4): that share of failing mail gets the policy, the rest gets the
   next milder one (reject → quarantine → none). The random draw is injected for tests.

Malformed tags (6.3: "Syntax errors in the remainder of the record SHOULD be discarded in favor of
default values"): an invalid ``p`` or ``sp`` makes the record ``p=none`` when it has a usable
``rua`` and no record otherwise (6.6.3 step 6); an invalid ``adkim``/``aspf`` is relaxed; ``pct``
that is not 1*3DIGIT from 0 to 100 is the default, 100 (never clamped: ``pct=-5`` read as 0 would
switch a domain's policy off); unknown tags are ignored; the first of a repeated tag wins. Tags may
come in any order after ``v`` (6.3 asks for ``p`` right after it, but published records often put
it later, and refusing them would drop the domain's policy altogether).

When DMARC fails only because a DKIM key lookup failed temporarily, the result is ``temperror``
(the signature might have aligned and passed): the caller defers.
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.mailauth.dkim_verify import DKIMResult
from pillarbox.mailauth.psl import organizational_domain
from pillarbox.mailauth.spf import SPFResult, SPFVerdict
from pillarbox.mime.addresses import parse_address_list
from pillarbox.mime.header_view import HeaderView


class Policy(enum.Enum):
    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"

    def milder(self) -> Policy:
        return {Policy.REJECT: Policy.QUARANTINE}.get(self, Policy.NONE)


_SEVERITY = {Policy.NONE: 0, Policy.QUARANTINE: 1, Policy.REJECT: 2}


@dataclass(frozen=True)
class DMARCRecord:
    policy: Policy
    subdomain_policy: Policy | None = None
    pct: int = 100
    adkim: str = "r"
    aspf: str = "r"
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    fo: str = "0"


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), value.strip())
    return tags


def _uris(value: str) -> tuple[str, ...]:
    return tuple(u.strip() for u in value.split(",") if u.strip().lower().startswith(("mailto:", "https:")))


# dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41 %x52 %x43 %x31, then dmarc-sep or the end (6.4)
_VERSION = re.compile(r"[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|\Z)")
_PCT = re.compile(r"[0-9]{1,3}")  # dmarc-percent = "pct" *WSP "=" *WSP 1*3DIGIT


def is_dmarc_record(text: str) -> bool:
    """Does this TXT record start with the DMARC version tag (6.6.3 steps 2 and 4)?"""
    return _VERSION.match(text) is not None


def parse_record(text: str) -> DMARCRecord | None:
    """The record, or None when it is not a usable DMARC record (6.3, 6.6.3)."""
    if not is_dmarc_record(text):
        return None
    tags = _tags(text)
    rua = _uris(tags.get("rua", ""))
    policy = _policy(tags.get("p"))
    subdomain = _policy(tags.get("sp")) if "sp" in tags else None
    if policy is None or ("sp" in tags and subdomain is None):
        if not rua:
            return None
        policy, subdomain = Policy.NONE, None
    return DMARCRecord(
        policy=policy, subdomain_policy=subdomain, pct=_percent(tags.get("pct", "100")),
        adkim="s" if tags.get("adkim", "r").lower() == "s" else "r",
        aspf="s" if tags.get("aspf", "r").lower() == "s" else "r",
        rua=rua, ruf=_uris(tags.get("ruf", "")), fo=tags.get("fo", "0"),
    )


def _percent(value: str) -> int:
    """pct: 1*3DIGIT from 0 to 100; anything else is a syntax error, so the default 100 (6.3)."""
    return int(value) if _PCT.fullmatch(value) and int(value) <= 100 else 100


def _policy(value: str | None) -> Policy | None:
    try:
        return Policy(value.lower()) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Discovered:
    record: DMARCRecord
    domain: str
    """Where the record was found (the From domain or its organizational domain)."""


async def _published(resolver: Resolver, domain: str) -> list[str]:
    """6.6.3 steps 1-2 (3-4 for the organizational domain): the DMARC records at ``_dmarc.<domain>``."""
    texts = [t.decode("utf-8", "replace") for t in await resolver.txt(f"_dmarc.{domain}")]
    return [t for t in texts if is_dmarc_record(t)]


async def discover(resolver: Resolver, from_domain: str) -> Discovered | None:
    """6.6.3 policy discovery; raises DNSTemporaryError when DNS could not answer."""
    domain = from_domain.rstrip(".").lower()
    records = await _published(resolver, domain)
    org = organizational_domain(domain)
    if not records and org != domain:  # step 3: only when the From domain publishes no DMARC record
        domain, records = org, await _published(resolver, org)
    if len(records) != 1:  # step 5: none, or several: no policy
        return None
    record = parse_record(records[0])  # step 6: None when p (or sp) is invalid and there is no rua
    return Discovered(record, domain) if record is not None else None


def aligned(domain: str, from_domain: str, mode: str) -> bool:
    domain, from_domain = domain.rstrip(".").lower(), from_domain.rstrip(".").lower()
    if not domain or not from_domain:
        return False
    if mode == "s":
        return domain == from_domain
    return organizational_domain(domain) == organizational_domain(from_domain)


@dataclass(frozen=True)
class DMARCVerdict:
    result: str
    """pass, fail, none (no policy published or no usable From), temperror, permerror."""
    from_domain: str
    policy: Policy | None = None
    """What the domain asks for failing mail (p, or sp for a subdomain)."""
    disposition: Policy = Policy.NONE
    """What to apply to this message: the policy after pct sampling; NONE unless result is fail."""
    record_domain: str = ""
    spf_aligned: bool = False
    dkim_aligned: bool = False
    reason: str = ""
    rua: tuple[str, ...] = field(default=())


def from_domains(message: bytes, view: HeaderView | None = None) -> list[str]:
    """The distinct domains of the RFC5322.From addresses (6.6.1), lower-cased, in order; from the
    transaction's parsed header ``view`` when there is one."""
    view = view or HeaderView.parse(message)
    domains: list[str] = []
    for value in view.values("from"):
        for address in parse_address_list(value):
            if address.host and address.mailbox and not address.host.startswith("."):
                domain = address.host.rstrip(".").lower()
                if domain not in domains:
                    domains.append(domain)
    return domains


async def check(
    resolver: Resolver,
    from_domain: str,
    spf: SPFVerdict | None,
    dkim: Sequence[DKIMResult],
    sample: Callable[[], float] = random.random,
) -> DMARCVerdict:
    """Evaluate DMARC for one From domain; DNS trouble gives result "temperror"."""
    try:
        found = await discover(resolver, from_domain)
    except DNSTemporaryError as exc:
        return DMARCVerdict("temperror", from_domain, reason=f"DMARC record lookup failed: {exc}")
    if found is None:
        return DMARCVerdict("none", from_domain, reason="no DMARC record")
    record = found.record
    spf_ok = spf is not None and spf.result is SPFResult.PASS and aligned(spf.domain, from_domain, record.aspf)
    dkim_ok = any(r.counts_for_dmarc and aligned(r.domain, from_domain, record.adkim) for r in dkim)
    policy = record.policy
    if found.domain != from_domain and record.subdomain_policy is not None:
        policy = record.subdomain_policy
    common = {"policy": policy, "record_domain": found.domain, "spf_aligned": spf_ok, "dkim_aligned": dkim_ok,
              "rua": record.rua}
    if spf_ok or dkim_ok:
        return DMARCVerdict("pass", from_domain, **common)
    if any(r.result == "temperror" and aligned(r.domain, from_domain, record.adkim) for r in dkim) or (
        spf is not None and spf.result is SPFResult.TEMPERROR
    ):
        return DMARCVerdict("temperror", from_domain, reason="an aligned identifier could not be checked", **common)
    disposition = policy if record.pct >= 100 or sample() * 100 < record.pct else policy.milder()
    reason = "" if disposition is policy else f"pct={record.pct}: policy {policy.value} sampled out"
    return DMARCVerdict("fail", from_domain, disposition=disposition, reason=reason, **common)


async def check_message(
    resolver: Resolver,
    message: bytes,
    spf: SPFVerdict | None,
    dkim: Sequence[DKIMResult],
    sample: Callable[[], float] = random.random,
    view: HeaderView | None = None,
) -> list[DMARCVerdict]:
    """One verdict per From domain ([] when there is no usable From: DMARC cannot apply)."""
    return [await check(resolver, domain, spf, dkim, sample) for domain in from_domains(message, view)]


def strictest(verdicts: Sequence[DMARCVerdict]) -> DMARCVerdict | None:
    """The verdict that decides: temperror first, then the harshest disposition, then a failure."""
    if not verdicts:
        return None

    def rank(v: DMARCVerdict) -> tuple[int, int, int]:
        return (v.result == "temperror", _SEVERITY[v.disposition], v.result == "fail")

    return max(verdicts, key=rank)
