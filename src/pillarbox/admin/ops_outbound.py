"""Outbound operations (queue, DKIM keys, DNS records, the DNS check), each once, returning data.

The CLI (``queue_dkim_dns.py``, ``check.py``) prints what these return; the JSON API and the admin
pages show it. The queue works on the store while the server runs: the runner notices a retry at
its next poll.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from pillarbox.admin.common import iso
from pillarbox.admin.ops_directory import domain_field
from pillarbox.clientsetup import configured_ports, srv_records
from pillarbox.config import Config
from pillarbox.errors import InvalidInput, NotFound
from pillarbox.mailauth import dkim_sign
from pillarbox.obs import get_logger, log_event
from pillarbox.policy.publish import mta_sts_id, mta_sts_policy, report_address
from pillarbox.store.api import Store
from pillarbox.store.records import QueuedMessage, is_queue_id

TTL = 3600
JSON = dict[str, Any]
log = get_logger("queue")


def when(seconds: int | None) -> str | None:
    return iso(datetime.fromtimestamp(seconds, UTC)) if seconds else None


def queue_id_field(text: str) -> str:
    if not is_queue_id(text.lower()):
        raise InvalidInput("id", f"not a queue id: {text!r} (12 letters and digits, see: pillarbox queue list)")
    return text.lower()


def entry_object(entry: QueuedMessage) -> JSON:
    return {
        "id": entry.id, "sender": entry.sender, "created": when(entry.created), "held": entry.held,
        "envid": entry.envid, "ret": entry.ret,
        "recipients": [{
            "address": r.address, "state": r.state, "attempts": r.attempts,
            "next_attempt": when(r.next_attempt) if r.state == "pending" else None,
            "last_error": r.last_error, "status": r.status, "remote_mta": r.remote_mta,
            "notify": list(r.notify), "orcpt": r.orcpt,
        } for r in entry.recipients],
    }


def _missing(queue_id: str) -> NotFound:
    # a message that only had local recipients, or whose delivery ended, has no queue entry (any more)
    return NotFound(f"no queue entry {queue_id}: not queued, or its delivery has ended (see: pillarbox queue list)")


async def _require(store: Store, queue_id: str) -> QueuedMessage:
    entry = await store.get_queue_entry(queue_id_field(queue_id))
    if entry is None:
        raise _missing(queue_id)
    return entry


# ---------------------------------------------------------------------------------------------- queue


async def list_queue(store: Store) -> list[JSON]:
    return [entry_object(e) for e in await store.list_queue()]


async def show_queue_entry(store: Store, queue_id: str) -> JSON:
    """The entry with its header fields as stored (``headers``: the raw block, ``subject`` decoded)."""
    entry = await _require(store, queue_id)
    raw = await store.read_message(entry.message_id)
    head = raw.split(b"\r\n\r\n", 1)[0]
    parsed = BytesHeaderParser(policy=default_policy).parsebytes(head + b"\r\n\r\n")
    return {**entry_object(entry), "headers": head.decode("utf-8", errors="replace").replace("\r\n", "\n"),
            "subject": str(parsed.get("subject", "") or ""), "size": len(raw)}


async def retry_queue(store: Store, queue_id: str | None = None) -> JSON:
    """Try one entry (or, with None, every pending recipient) again now."""
    if queue_id is None:
        return {"recipients": await store.retry_queue(None)}
    entry = await _require(store, queue_id)
    return {"id": entry.id, "recipients": await store.retry_queue([entry.id])}


async def hold_queue_entry(store: Store, queue_id: str, held: bool) -> JSON:
    queue_id = queue_id_field(queue_id)
    if not await store.hold_queue_entry(queue_id, held):
        raise _missing(queue_id)
    return {"id": queue_id, "held": held}


async def delete_queue_entry(store: Store, queue_id: str) -> JSON:
    queue_id = queue_id_field(queue_id)
    if not await store.delete_queue_entry(queue_id):
        raise _missing(queue_id)
    log_event(log, "info", "queue entry done", queue_id=queue_id, result="deleted")
    return {"id": queue_id, "deleted": True}


# ---------------------------------------------------------------------------------------------- dkim


def txt_record(name: str, value: str) -> str:
    chunks = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    return f"{name} {TTL} IN TXT {chunks}"


async def list_dkim_keys(store: Store, domain: str) -> list[JSON]:
    keys = await store.dkim_keys(domain_field(domain), active_only=False)
    return [{"domain": k.domain, "selector": k.selector, "algorithm": k.algorithm, "active": k.active,
             "created": when(k.created)} for k in keys]


async def rotate_dkim_keys(store: Store, domain: str) -> JSON:
    name = domain_field(domain)
    if not await store.has_domain(name):
        raise NotFound(f"no domain {name}")
    keys = await dkim_sign.rotate(store, name)
    return {"domain": name, "selectors": [k.selector for k in keys],
            "records": [txt_record(f"{k.selector}._domainkey.{k.domain}.", dkim_sign.dns_value(k)) for k in keys]}


# ---------------------------------------------------------------------------------------------- dns


def served_policy(config: Config) -> str:
    return mta_sts_policy(config.policy.mta_sts_mode, config.hostname, config.policy.mta_sts_max_age)


def dns_records(domain: str, config: Config, keys: list[Any], ports: dict[str, int] | None = None) -> list[str]:
    """Zone-file lines for what is really served: MX, SPF, DKIM, DMARC, and, with a web listener,
    MTA-STS and the autoconfig/autodiscover names; SRV records for the configured client ports."""
    d, mx = f"{domain}.", f"{config.hostname}."
    ports = configured_ports(config) if ports is None else ports
    lines = [f"{d} {TTL} IN MX 10 {mx}", txt_record(d, "v=spf1 mx -all")]
    lines += [txt_record(f"{k.selector}._domainkey.{d}", dkim_sign.dns_value(k)) for k in keys]
    rua = report_address(domain, config.policy.reports_to)
    lines += [txt_record(f"_dmarc.{d}", f"v=DMARC1; p=quarantine; rua=mailto:{rua}"),
              txt_record(f"_smtp._tls.{d}", f"v=TLSRPTv1; rua=mailto:{rua}")]
    if ports.get("https"):
        lines += [txt_record(f"_mta-sts.{d}", f"v=STSv1; id={mta_sts_id(served_policy(config))}"),
                  f"mta-sts.{d} {TTL} IN CNAME {mx}",
                  f"autoconfig.{d} {TTL} IN CNAME {mx}",
                  f"autodiscover.{d} {TTL} IN CNAME {mx}"]
    return lines + srv_records(domain, config.hostname, ports, TTL)


async def domain_records(store: Store, config: Config, domain: str, ports: dict[str, int] | None = None) -> JSON:
    """The records ``domain`` must publish (creating its DKIM keys if it has none yet)."""
    name = domain_field(domain)
    if not await store.has_domain(name):
        raise NotFound(f"no domain {name}; add it first with: pillarbox domain add {name}")
    keys = await dkim_sign.ensure_keys(store, name)
    return {"domain": name, "hostname": config.hostname, "records": dns_records(name, config, keys, ports),
            "mta_sts_policy": served_policy(config) if (ports or configured_ports(config)).get("https") else None}


async def check_dns(store: Store, config: Config, domain: str, resolver: Any = None) -> JSON:
    """What ``domain`` really publishes, finding by finding (``admin/check.py``)."""
    from pillarbox.admin.check import Finding, Target, check_domain, dkim_of, make_resolver

    name = domain_field(domain)
    dkim = dkim_of(await store.dkim_keys(name))
    sources = (config.outbound.source_ipv4, config.outbound.source_ipv6)
    target = Target(name, config.hostname, config.policy.public_ip, dkim, mta_sts_id(served_policy(config)),
                    report_address(name, config.policy.reports_to), tuple(ip for ip in sources if ip))
    findings = await check_domain(resolver or make_resolver(config), target)
    if not await store.has_domain(name):
        findings.insert(0, Finding("warn", "DOMAIN", f"{name} is not served here (pillarbox domain add {name})"))
    return {"domain": name, "problems": sum(f.is_problem for f in findings),
            "findings": [{"status": f.status, "item": f.item, "detail": f.detail, "publish": f.publish,
                          "problem": f.is_problem} for f in findings]}
