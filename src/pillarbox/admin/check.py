"""``pillarbox check DOMAIN``: what the domain really publishes in DNS, line by line, and what to fix.

Each line is a status (``ok``, ``MISSING``, ``WRONG``, ``warn``, ``skip``, ``ERROR`` for a DNS lookup
that failed), the item, and what we found; a missing or wrong item is followed by the record to
publish. The exit status is 0 when nothing is missing or wrong, 1 otherwise.

Checked: MX (must name our hostname), SPF (one record, and when ``[policy] public_ip`` is set it
must pass for that address), DKIM (a key record for each active selector we sign with, matching our
key), DMARC, MTA-STS (``_mta-sts`` TXT and an address for ``mta-sts.<domain>``), TLS-RPT, our
hostname's address and the PTR of our address (both need ``public_ip``, else skipped with a note).
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pillarbox.config import Config, load_config
from pillarbox.dns.resolver import DNSResolver, DNSTemporaryError, Resolver
from pillarbox.mailauth.dmarc import Policy, parse_record
from pillarbox.mailauth.spf import SPFResult, check_host


@dataclass(frozen=True)
class Finding:
    status: str
    item: str
    detail: str
    publish: str = ""

    @property
    def is_problem(self) -> bool:
        return self.status in ("MISSING", "WRONG", "ERROR")

    def lines(self) -> list[str]:
        out = [f"{self.status:<8} {self.item:<8} {self.detail}"]
        if self.publish:
            out.append(f"{'':<17} publish: {self.publish}")
        return out


def _quote(text: str) -> str:
    return '"' + text + '"'


async def _txt(resolver: Resolver, name: str, prefix: str) -> list[str]:
    texts = [t.decode("utf-8", "replace") for t in await resolver.txt(name)]
    return [t for t in texts if t.replace(" ", "").lower().startswith(prefix.lower())]


@dataclass(frozen=True)
class Target:
    domain: str
    hostname: str
    public_ip: str
    dkim: Sequence[tuple[str, str, str]]
    """(selector, k= algorithm, public key) of each active DKIM key of the domain."""
    mta_sts_id: str = ""
    """The id our MTA-STS policy has (``policy.publish.mta_sts_id``), which the record must name."""
    rua: str = ""
    """Where the DMARC and TLS-RPT records should ask for reports (``policy.publish.report_address``)."""
    sources: tuple[str, ...] = ()
    """``[outbound] source_ipv4/source_ipv6``: where mail leaves from, whose PTR must name the EHLO name."""


def dkim_of(keys: Sequence[Any]) -> list[tuple[str, str, str]]:
    return [(k.selector, "ed25519" if k.algorithm.startswith("ed25519") else "rsa", k.public_key) for k in keys]


def make_resolver(config: Config) -> DNSResolver:
    return DNSResolver([(e.host, e.port) for e in config.dns.nameservers], config.dns.timeout)


async def check_domain(resolver: Resolver, target: Target) -> list[Finding]:
    findings: list[Finding] = []
    for name, step in (("MX", _mx), ("SPF", _spf), ("DKIM", _dkim), ("DMARC", _dmarc), ("MTA-STS", _mta_sts),
                       ("TLS-RPT", _tls_rpt), ("A", _address), ("PTR", _ptr)):
        try:
            findings += await step(resolver, target)
        except DNSTemporaryError as exc:
            findings.append(Finding("ERROR", name, f"DNS lookup failed, try again: {exc}"))
    return findings


async def _mx(resolver: Resolver, t: Target) -> list[Finding]:
    records = await resolver.mx(t.domain)
    publish = f"{t.domain}. MX 10 {t.hostname}."
    if not records:
        return [Finding("MISSING", "MX", f"{t.domain} has no MX record", publish)]
    hosts = ", ".join(f"{r.host or '.'} ({r.preference})" for r in sorted(records, key=lambda r: r.preference))
    if any(r.host == t.hostname for r in records):
        return [Finding("ok", "MX", hosts)]
    return [Finding("WRONG", "MX", f"MX points to {hosts}, not to {t.hostname}", publish)]


async def _spf(resolver: Resolver, t: Target) -> list[Finding]:
    records = await _txt(resolver, t.domain, "v=spf1")
    publish = f"{t.domain}. TXT {_quote('v=spf1 mx -all')}"
    if not records:
        return [Finding("MISSING", "SPF", f"{t.domain} has no SPF record", publish)]
    if len(records) > 1:
        return [Finding("WRONG", "SPF", f"{len(records)} SPF records (there must be one): {records}", publish)]
    ip = t.public_ip or "192.0.2.1"
    verdict = await check_host(resolver, ip, t.domain, f"postmaster@{t.domain}", helo=t.hostname)
    if verdict.result is SPFResult.PERMERROR:
        return [Finding("WRONG", "SPF", f"{records[0]!r}: {verdict.reason}", publish)]
    if verdict.result is SPFResult.TEMPERROR:
        raise DNSTemporaryError(verdict.reason)
    if not t.public_ip:
        return [Finding("ok", "SPF", f"{records[0]} (set [policy] public_ip to check that it allows us)")]
    if verdict.result is not SPFResult.PASS:
        return [Finding("WRONG", "SPF", f"{records[0]!r} gives {verdict.result.value} for our address {ip}",
                        publish)]
    return [Finding("ok", "SPF", f"{records[0]} (pass for {ip})")]


async def _dkim(resolver: Resolver, t: Target) -> list[Finding]:
    if not t.dkim:
        return [Finding("skip", "DKIM", f"no DKIM key for {t.domain} here (create one: pillarbox dkim)")]
    findings = []
    for selector, algorithm, public in t.dkim:
        name = f"{selector}._domainkey.{t.domain}"
        want = f"v=DKIM1; k={algorithm}; p={public}"
        publish = f"{name}. TXT {_quote(want)}"
        found = [r.replace(" ", "") for r in await _txt(resolver, name, "v=DKIM1")]
        if not found:
            findings.append(Finding("MISSING", "DKIM", f"no key record at {name}", publish))
        elif not any(f"p={public}" in r for r in found):
            findings.append(Finding("WRONG", "DKIM", f"the key at {name} is not ours", publish))
        else:
            findings.append(Finding("ok", "DKIM", f"{name} ({algorithm})"))
    return findings


async def _dmarc(resolver: Resolver, t: Target) -> list[Finding]:
    name = f"_dmarc.{t.domain}"
    want = f"v=DMARC1; p=quarantine; rua=mailto:{t.rua}"
    publish = f"{name}. TXT {_quote(want)}"
    found = await _txt(resolver, name, "v=DMARC1")
    if not found:
        return [Finding("MISSING", "DMARC", f"no DMARC record at {name}", publish)]
    record = parse_record(found[0]) if len(found) == 1 else None
    if record is None:
        return [Finding("WRONG", "DMARC", f"unusable DMARC record(s) at {name}: {found}", publish)]
    if record.policy is Policy.NONE:
        return [Finding("warn", "DMARC", f"{found[0]} (p=none only monitors; consider p=quarantine)")]
    return [Finding("ok", "DMARC", found[0])]


async def _mta_sts(resolver: Resolver, t: Target) -> list[Finding]:
    name = f"_mta-sts.{t.domain}"
    findings = []
    found = await _txt(resolver, name, "v=STSv1")
    want = f"{name}. TXT {_quote('v=STSv1; id=' + t.mta_sts_id)}"
    if len(found) != 1:
        what = "no MTA-STS record" if not found else "several MTA-STS records"
        findings.append(Finding("MISSING" if not found else "WRONG", "MTA-STS", f"{what} at {name}", want))
    elif t.mta_sts_id and f"id={t.mta_sts_id}" not in found[0].replace(" ", ""):
        findings.append(Finding("WRONG", "MTA-STS", f"{found[0]}: not the id of the policy we serve", want))
    else:
        findings.append(Finding("ok", "MTA-STS", found[0]))
    host = f"mta-sts.{t.domain}"
    if not await resolver.addresses(host):
        target = t.public_ip or "<our address>"
        kind = "AAAA" if ":" in target else "A"
        findings.append(Finding("MISSING", "MTA-STS", f"{host} has no address: the policy cannot be fetched",
                                f"{host}. {kind} {target}  (serve HTTPS for it, proxied to our http listener)"))
    else:
        findings.append(Finding("ok", "MTA-STS", f"{host} resolves"))
    return findings


async def _tls_rpt(resolver: Resolver, t: Target) -> list[Finding]:
    name = f"_smtp._tls.{t.domain}"
    found = await _txt(resolver, name, "v=TLSRPTv1")
    if not found:
        want = f"v=TLSRPTv1; rua=mailto:{t.rua}"
        return [Finding("MISSING", "TLS-RPT", f"no TLS-RPT record at {name}", f"{name}. TXT {_quote(want)}")]
    return [Finding("ok", "TLS-RPT", found[0])]


async def _address(resolver: Resolver, t: Target) -> list[Finding]:
    if not t.public_ip:
        return [Finding("skip", "A", f"set [policy] public_ip to check that {t.hostname} points to us")]
    kind = "AAAA" if ipaddress.ip_address(t.public_ip).version == 6 else "A"
    found = await (resolver.aaaa(t.hostname) if kind == "AAAA" else resolver.a(t.hostname))
    if t.public_ip in found:
        return [Finding("ok", kind, f"{t.hostname} → {t.public_ip}")]
    detail = f"{t.hostname} resolves to {', '.join(found) or 'nothing'}, not {t.public_ip}"
    return [Finding("MISSING" if not found else "WRONG", kind, detail, f"{t.hostname}. {kind} {t.public_ip}")]


async def _ptr(resolver: Resolver, t: Target) -> list[Finding]:
    """The reverse DNS of our address and of each address mail leaves from must name the host name we
    say in EHLO (receivers check the two agree)."""
    addresses = [ip for ip in dict.fromkeys((t.public_ip, *t.sources)) if ip]
    if not addresses:
        return [Finding("skip", "PTR", "set [policy] public_ip to check the reverse DNS of our address")]
    findings = []
    for ip in addresses:
        names = await resolver.ptr(ip)
        if t.hostname in names:
            findings.append(Finding("ok", "PTR", f"{ip} → {t.hostname} (the EHLO name)"))
            continue
        detail = f"the PTR of {ip} is {', '.join(names) or 'missing'}, not {t.hostname} (the EHLO name)"
        publish = f"PTR of {ip} → {t.hostname}. (ask whoever owns the address: your hosting provider)"
        findings.append(Finding("MISSING" if not names else "WRONG", "PTR", detail, publish))
    return findings


async def check_command(store: Any, args: argparse.Namespace) -> int:
    from pillarbox.admin.ops_outbound import check_dns

    result = await check_dns(store, load_config(args.config), args.domain.rstrip("."))
    for finding in result["findings"]:
        print("\n".join(Finding(finding["status"], finding["item"], finding["detail"], finding["publish"]).lines()))
    domain, problems = result["domain"], result["problems"]
    print(f"{problems} problem(s) found for {domain}" if problems else f"{domain} publishes everything we need")
    return 1 if problems else 0
