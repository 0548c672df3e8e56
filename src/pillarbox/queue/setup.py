"""Build the queue runner from the configuration (app.py calls ``build_runner``)."""

from __future__ import annotations

from pillarbox.auth.directory import Directory
from pillarbox.config import Config
from pillarbox.dns.resolver import DNSResolver, Resolver
from pillarbox.outbound.connect import ConnectSettings
from pillarbox.outbound.deliver import Deliverer, Routing
from pillarbox.outbound.mtasts import MTASTS
from pillarbox.outbound.tlspolicy import HostPolicy
from pillarbox.queue.runner import QueueRunner
from pillarbox.smtp.client import Timeouts


def make_resolver(config: Config) -> DNSResolver:
    servers = tuple((e.host, e.port) for e in config.dns.nameservers)
    return DNSResolver(servers, config.dns.timeout)


def build_deliverer(config: Config, store: object, resolver: Resolver) -> Deliverer:
    out = config.outbound
    settings = ConnectSettings(
        helo=config.hostname, port=out.smtp_port, timeouts=Timeouts(connect=out.connect_timeout),
        ca_file=out.ca_file, username=out.relay_username, password=out.relay_password,
        source_ipv4=out.source_ipv4, source_ipv6=out.source_ipv6,
    )
    routing = Routing(out.smtp_port, out.relay, out.routes, out.mta_sts, out.dane, out.relay_tls)

    async def tls_report(policy: HostPolicy, host: str, result: str) -> None:
        await store.count_tls_result(policy.policy_domain, policy.report_type, host, result)  # type: ignore[attr-defined]

    async def policy_failure(domain: str, result: str) -> None:
        await store.count_tls_result(domain, "sts", "", result)  # type: ignore[attr-defined]

    mtasts = MTASTS(store, resolver, out.ca_file, out.mta_sts_port, on_failure=policy_failure) if out.mta_sts else None

    memory = store if out.tls_memory else None
    return Deliverer(resolver, settings, routing, mtasts, tls_report, memory)  # type: ignore[arg-type]


def build_runner(config: Config, store: object, resolver: Resolver | None = None) -> QueueRunner:
    resolver = resolver or make_resolver(config)
    directory = Directory(store)  # type: ignore[arg-type]
    return QueueRunner(store, directory, build_deliverer(config, store, resolver), config)
