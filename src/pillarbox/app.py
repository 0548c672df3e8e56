"""Builds the running server from the config and owns its lifetime: start, reload, stop.

This is the only owner of long-lived mutable objects (store, TLS contexts, listeners, throttles).
``serve`` binds every configured listener whose protocol is available, runs until SIGTERM/SIGINT,
then stops accepting, lets sessions in flight finish within ``STOP_GRACE`` seconds, closes the store
(which waits for the last group commit) and returns 0. SIGHUP reloads the TLS certificate. With
``workers`` above 1 the same ``run`` also serves in each worker process (``workers.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pillarbox.acme.challenges import ChallengeBoard, port80_app
from pillarbox.acme.files import CertFiles
from pillarbox.acme.manager import Wanted
from pillarbox.acme.service import ACME, CertificateSource, build_acme, current_certificate
from pillarbox.acme.status import status as acme_status
from pillarbox.antispam.filter import ContentFilter
from pillarbox.antispam.greylist import Greylist
from pillarbox.antispam.learning import LearningJob
from pillarbox.antispam.rspamd import RspamdClient
from pillarbox.antispam.screening import ConnectionScreen
from pillarbox.antispam.sending import SendingLimits
from pillarbox.auth.authenticator import Authenticator
from pillarbox.auth.directory import Directory
from pillarbox.auth.login_cache import LoginCache
from pillarbox.auth.passwords import PasswordHashing, hash_parameters
from pillarbox.auth.throttle import LoginThrottle, ThrottleSettings
from pillarbox.background import BackgroundTask, LeaderOnly
from pillarbox.clientsetup import configured_ports
from pillarbox.config import AntispamConfig, Config, Endpoint, LimitsConfig, ListenConfig
from pillarbox.delivery.filtering import SieveFilter, settings_from_config
from pillarbox.dns.resolver import DNSResolver
from pillarbox.errors import ConfigError
from pillarbox.imap import response as imap_response
from pillarbox.imap.server import make_handler as imap_handler
from pillarbox.imap.session import IMAPServices, IMAPSettings
from pillarbox.mailauth.dkim_sign import DKIMSigner
from pillarbox.managesieve import server as managesieve
from pillarbox.managesieve.session import ManageSieveServices
from pillarbox.mime.headers import HeaderLimits
from pillarbox.net.balance import LoadBoard
from pillarbox.net.limits import ConnectionLimiter, PoolLimits
from pillarbox.net.listener import Connection, Listener
from pillarbox.net.proxy import ProxyPolicy
from pillarbox.net.spool import SpoolArea
from pillarbox.net.tls import TLSContextHolder, certificate_facts
from pillarbox.obs import get_logger, log_event, render_metrics, set_node_name, set_process_label, setup_logging
from pillarbox.policy.dmarc_reports import DMARCReporter, DMARCReportTask
from pillarbox.policy.inbound import InboundPolicy, PolicySettings
from pillarbox.policy.received.intake import ReportIntake
from pillarbox.policy.reports import StoreDMARCRecorder
from pillarbox.policy.senders import SenderRules
from pillarbox.pop3 import server as pop3
from pillarbox.queue.runner import QueueRunner
from pillarbox.queue.sampler import QueueSampler
from pillarbox.queue.setup import build_runner, make_resolver
from pillarbox.queue.tlsrpt import TLSReportSender, TLSReportTask
from pillarbox.smtp import replies
from pillarbox.smtp.accept import MessageAcceptor
from pillarbox.smtp.envelope import Role
from pillarbox.smtp.server import make_handler as smtp_handler
from pillarbox.smtp.session import SMTPServices, SMTPSettings
from pillarbox.store.api import Backend
from pillarbox.store.datadir import ServeLock
from pillarbox.store.factory import open_store
from pillarbox.store.files import repair
from pillarbox.store.indexer import BackgroundIndexer
from pillarbox.web.server import HttpLimits, HttpServer
from pillarbox.web.services import WebServices
from pillarbox.web.site import build_site
from pillarbox.workers import (
    LOAD_BOARD,
    QUEUE_POKE,
    MetricsExport,
    WorkerPool,
    WorkerSetup,
    worker_count,
    worker_metrics,
)

STOP_GRACE = 10.0
SHARED_DATA_DIR_FOR_TESTS = "PILLARBOX_TESTS_SHARE_DATA_DIR"
"""Set to 1, a second ``serve`` may run on a data_dir in use: only for tests that play two processes
on one data_dir with a port each (as workers are, but reachable one by one). Never in production."""
log = get_logger("app")

Handler = Callable[[Connection], Awaitable[None]]


@dataclass
class Services:
    """What every protocol session may use; built once by ``build_services``."""

    config: Config
    store: Backend
    directory: Directory
    tls: TLSContextHolder
    authenticator: Authenticator
    limiters: dict[str, ConnectionLimiter]
    """One per kind of listener (``ServiceSpec.pool``): each has its own connection limits."""
    spool: SpoolArea
    resolver: DNSResolver
    queue_runner: QueueRunner
    certificate: CertificateSource
    listeners: list[Listener] = field(default_factory=list)
    balance: LoadBoard | None = None
    """With ``workers`` > 1: the open connections of every process, so the least busy one accepts."""
    web: WebServices | None = None
    """What the ``http`` and ``https`` listeners serve (built when the first of them starts)."""
    acme: ACME | None = None
    """The primary's, with ``[acme] directory`` set: challenges, the 443 listener's TLS, the manager."""
    pool: WorkerPool | None = None


@dataclass(frozen=True)
class ServiceSpec:
    """How one ``[listen]`` key is served: its connection handler, the connection limits it shares
    (``pool``: the plaintext and TLS ports of a protocol together), implicit TLS or not, and the line
    sent to a client refused for too many connections."""

    make_handler: Callable[[Services], Handler]
    pool: str
    implicit_tls: bool = False
    refusal: bytes = b""


def pool_limits(limits: LimitsConfig) -> dict[str, PoolLimits]:
    """The connection limits of each kind of listener (``net/limits.py``, docs/security.md)."""

    def reserve(total: int) -> int:
        return total * limits.reserved_for_users // 100

    return {
        "smtp": PoolLimits(limits.smtp_connections, limits.smtp_connections_per_ip),
        "submission": PoolLimits(limits.submission_connections, limits.submission_connections_per_ip,
                                 reserved=reserve(limits.submission_connections)),
        "imap": PoolLimits(limits.imap_connections, limits.imap_connections_per_ip,
                           limits.imap_connections_per_user_ip, reserve(limits.imap_connections),
                           per_ip_counts_users=False),
        "pop3": PoolLimits(limits.pop3_connections, limits.pop3_connections_per_ip,
                           reserved=reserve(limits.pop3_connections), per_ip_counts_users=False),
        "managesieve": PoolLimits(limits.managesieve_connections, limits.managesieve_connections_per_ip,
                                  limits.managesieve_connections_per_user_ip, reserve(limits.managesieve_connections),
                                  per_ip_counts_users=False),
        "http": PoolLimits(limits.http_connections),
    }


def build_limiters(limits: LimitsConfig) -> dict[str, ConnectionLimiter]:
    """Two counters each on the workers' load board (``LoadBoard(counters=2 * len(...))``)."""
    return {name: ConnectionLimiter(pool, name=name, slot=2 * index)
            for index, (name, pool) in enumerate(pool_limits(limits).items())}


async def build_services(config: Config, primary: bool = True) -> Services:
    """Everything the listeners share; ``primary`` False in a worker process (no WAL checkpoints there)."""
    store = await open_store(config, primary)
    certificate = current_certificate(config)
    limits = config.limits
    resolver = make_resolver(config)  # one cache for SPF/DKIM/DMARC and outbound routing
    return Services(
        config=config,
        store=store,
        directory=Directory(store, hostname=config.hostname, postmaster=config.postmaster),
        tls=TLSContextHolder(certificate.cert, certificate.key),
        authenticator=build_authenticator(config, store),
        limiters=build_limiters(limits),
        spool=SpoolArea.prepare(config.data_dir, limits.buffer_memory, sweep=primary),
        resolver=resolver,
        queue_runner=build_runner(config, store, resolver),
        certificate=certificate,
    )


def build_authenticator(config: Config, store: Backend) -> Authenticator:
    auth = config.auth
    throttle = ThrottleSettings(
        max_ip_failures=config.limits.auth_failures_per_ip, window=auth.failure_window,
        failure_delay=auth.failure_delay, max_failure_delay=auth.max_failure_delay,
        account_failures=auth.account_failures, account_delay=auth.account_delay,
        max_account_delay=auth.max_account_delay, trusted_for=auth.trusted_network_days * 86400,
    )
    return Authenticator(store, LoginThrottle(store, throttle), PasswordHashing(hash_parameters(auth)),
                         LoginCache(ttl=auth.cache_ttl, size=auth.cache_size))


def web_services(services: Services) -> WebServices:
    """What the web face gets: the admin operations as data (``admin/registry.py``) among the rest."""
    from pillarbox.admin.registry import OPERATIONS, Context

    config = services.config
    workers = worker_count(config)
    ports = served_ports(services)
    return WebServices(
        config=config, store=services.store, authenticator=services.authenticator, operations=OPERATIONS,
        context=Context(services.store, config, services.resolver, ports), healthcheck=services.store.healthy,
        metrics=lambda: render_metrics(others=worker_metrics(config.data_dir, workers)), ports=ports,
        status=lambda: server_status(services),
    )


def served_ports(services: Services) -> dict[str, int]:
    """The port each client-facing listener really serves: the configured one, or the bound one (port 0)."""
    ports = configured_ports(services.config)
    for listener in services.listeners:
        if listener.name in ports and listener.addresses:
            ports[listener.name] = listener.addresses[0][1]
    return ports


async def server_status(services: Services) -> dict[str, object]:
    status: dict[str, object] = {"certificate": certificate_facts(services.tls.cert_path)}
    if services.acme is not None:  # each ACME certificate: expiry, next attempt, failures, last error
        status["acme"] = acme_status(services.config.data_dir).to_json()
    return status


def _web_handler(internal: bool) -> Callable[[Services], Handler]:
    def make(services: Services) -> Handler:
        if services.web is None:
            services.web = web_services(services)
        return HttpServer(build_site(services.web, internal=internal), HttpLimits()).handle

    return make


def _plain_web_handler(services: Services) -> Handler:
    """Port 80: ACME HTTP-01 challenges; every other request is sent to https."""
    board = services.acme.board if services.acme is not None else ChallengeBoard()
    return HttpServer(port80_app(board), HttpLimits()).handle


def _smtp_services(services: Services) -> SMTPServices:
    config, limits = services.config, services.config.limits
    settings = SMTPSettings(
        hostname=config.hostname, max_message_size=limits.max_message_size, max_recipients=limits.max_recipients,
        max_command_errors=limits.max_command_errors, timeout=limits.smtp_timeout,
        line_limit=limits.max_line_length, transfer_timeout=limits.transfer_timeout,
        min_transfer_rate=limits.min_transfer_rate,
        header_limits=HeaderLimits(max_bytes=limits.max_header_size, max_lines=limits.max_header_lines),
    )
    policy = None
    if config.policy.check:
        knobs = config.policy
        settings_ = PolicySettings(
            spf_temperror=knobs.spf_temperror, dmarc_temperror=knobs.dmarc_temperror,
            dmarc_reject=knobs.dmarc_reject, dmarc_quarantine=knobs.dmarc_quarantine,
            spf_fail_without_dmarc=knobs.spf_fail_without_dmarc,
            spf_softfail_without_dmarc=knobs.spf_softfail_without_dmarc,
        )
        policy = InboundPolicy(services.resolver, config.hostname, settings_, StoreDMARCRecorder(services.store))
    acceptor = MessageAcceptor(services.store, config.hostname, policy, DKIMSigner(services.store),
                               on_queued=services.queue_runner.poke,
                               reporter=services.queue_runner.reporter.report_local,
                               senders=SenderRules(services.directory, config.senders),
                               sieve=SieveFilter(services.store, settings_from_config(config.sieve)),
                               directory=services.directory,
                               spam=content_filter(config.antispam, services.store),
                               sending=SendingLimits(services.store, config.antispam),
                               reports=_report_intake(services))
    antispam = config.antispam
    return SMTPServices(settings, services.directory, services.authenticator, acceptor, services.tls, services.spool,
                        screen=ConnectionScreen(antispam, services.resolver),
                        greylist=Greylist(services.store, antispam) if antispam.greylist else None)


def rspamd_client(settings: AntispamConfig) -> RspamdClient | None:
    if not settings.rspamd and not settings.rspamd_controller:
        return None
    return RspamdClient(settings.rspamd, settings.rspamd_controller, settings.rspamd_password,
                        settings.rspamd_timeout)


def content_filter(settings: AntispamConfig, store: Backend) -> ContentFilter:
    return ContentFilter(store, settings, rspamd_client(settings) if settings.rspamd else None)


def _report_intake(services: Services) -> ReportIntake | None:
    policy = services.config.policy
    if not policy.received_reports:
        return None
    return ReportIntake(services.store, policy.reports_to, policy.received_report_max_size)


def _smtp(role: Role) -> Callable[[Services], Handler]:
    return lambda services: smtp_handler(_smtp_services(services), role)


def _imap(implicit_tls: bool) -> Callable[[Services], Handler]:
    def make(services: Services) -> Handler:
        limits = services.config.limits
        settings = IMAPSettings(
            hostname=services.config.hostname, timeout=limits.imap_timeout, max_literal=limits.imap_max_literal,
            max_command_errors=limits.max_command_errors, login_timeout=limits.imap_login_timeout,
            transfer_timeout=limits.transfer_timeout, min_transfer_rate=limits.min_transfer_rate,
            metadata_max_size=limits.imap_metadata_max_size, metadata_max_entries=limits.imap_metadata_max_entries,
        )
        imap_services = IMAPServices(settings, services.store, services.authenticator, services.tls,
                                     spool=services.spool)
        return imap_handler(imap_services, implicit_tls)

    return make


def service_specs() -> dict[str, ServiceSpec]:
    """Every listener kind Pillarbox serves; a protocol joins this table when it is implemented."""
    smtp_refusal = replies.TOO_MANY_CONNECTIONS.to_bytes()
    return {
        "http": ServiceSpec(_web_handler(internal=True), "http"),
        "web": ServiceSpec(_plain_web_handler, "http"),
        "https": ServiceSpec(_web_handler(internal=False), "http", implicit_tls=True),
        "smtp": ServiceSpec(_smtp(Role.MX), "smtp", refusal=smtp_refusal),
        "submission": ServiceSpec(_smtp(Role.SUBMISSION), "submission", refusal=smtp_refusal),
        "submissions": ServiceSpec(_smtp(Role.SUBMISSIONS), "submission", implicit_tls=True),
        "imap": ServiceSpec(_imap(False), "imap", refusal=imap_response.TOO_MANY_CONNECTIONS.to_bytes()),
        "imaps": ServiceSpec(_imap(True), "imap", implicit_tls=True),
        "pop3": ServiceSpec(pop3.make_app_handler, "pop3", refusal=pop3.TOO_MANY_CONNECTIONS),
        "pop3s": ServiceSpec(pop3.make_app_handler, "pop3", implicit_tls=True),
        "managesieve": ServiceSpec(_managesieve, "managesieve", refusal=managesieve.TOO_MANY_CONNECTIONS),
    }


def _managesieve(services: Services) -> Handler:
    config = services.config
    return managesieve.make_handler(ManageSieveServices(
        config.hostname, services.store, services.authenticator, services.tls, settings_from_config(config.sieve),
        timeout=config.sieve.managesieve_timeout, max_command_errors=config.limits.max_command_errors,
    ))


async def start_listeners(
    services: Services, inherited: Mapping[str, Sequence[socket.socket]] | None = None
) -> None:
    """Bind and serve every configured listener; a worker serves the ``inherited`` sockets instead."""
    specs = service_specs()
    for name, endpoints in services.config.listen.endpoints().items():
        spec = specs.get(name)
        if spec is None:
            log_event(log, "warning", "listener not started: protocol not implemented yet", service=name)
            continue
        if inherited is not None and name not in inherited:
            continue
        tls = services.acme.web_tls if name == "https" and services.acme is not None else services.tls
        listener = Listener(
            endpoints, spec.make_handler(services), tls=tls if spec.implicit_tls else None,
            limiter=services.limiters[spec.pool], refusal=spec.refusal, name=name,
            balance=services.balance if name not in PRIMARY_ONLY else None,
            send_timeout=services.config.limits.send_timeout, proxy=_proxy_policy(services.config.listen, name),
        )
        try:
            await listener.start(inherited[name] if inherited is not None else None)
        except OSError as exc:
            raise ConfigError(f"listen.{name}: cannot listen on {', '.join(map(str, endpoints))}: {exc}") from exc
        services.listeners.append(listener)
        for host, port in listener.addresses if inherited is None else ():
            log_event(log, "info", "listening", service=name, address=str(Endpoint(host, port)))


def _proxy_policy(listen: ListenConfig, name: str) -> ProxyPolicy | None:
    """Behind a load balancer: who may say, in a PROXY header, which client a connection is for."""
    return ProxyPolicy(listen.proxy_trusted, listen.proxy_timeout) if name in listen.proxy_protocol else None


PRIMARY_ONLY = ("http", "web", "https")
"""Listeners the primary keeps: health, metrics and the web face (its traffic is small), and the ACME
challenges (answered by the process that orders)."""


def _shared_sockets(services: Services) -> dict[str, list[socket.socket]]:
    """What workers inherit: every protocol listener but ``PRIMARY_ONLY``."""
    return {listener.name: listener.sockets for listener in services.listeners if listener.name not in PRIMARY_ONLY}


def background_tasks(services: Services) -> list[BackgroundTask]:
    """Long-running jobs beside the listeners: the outbound queue, the search indexer, the queue's size
    for the dashboard, the daily reports."""
    config = services.config
    runner = services.queue_runner
    store = services.store
    lead = store.leadership().hold  # jobs one node of a cluster runs
    tasks: list[BackgroundTask] = [runner, BackgroundIndexer(store.index_backlog, store.index_pending),
                                   LeaderOnly(QueueSampler(store), "queue-sampler", lead)]
    antispam = config.antispam
    tasks.append(LeaderOnly(LearningJob(store, antispam, rspamd_client(antispam),
                                         Greylist(store, antispam) if antispam.greylist else None),
                             "antispam-learning", lead))
    if config.policy.check and config.policy.dmarc_reports:
        reporter = DMARCReporter(services.store, services.resolver, config.hostname, runner.reporter.send)
        tasks.append(DMARCReportTask(reporter, claim=store.claim_daily_job))
    if config.queue.tls_reports:
        tls = TLSReportSender(services.store, services.resolver, config.hostname, runner.reporter.send,
                              smtp_port=config.outbound.smtp_port, ca_file=config.outbound.ca_file)
        tasks.append(TLSReportTask(tls, claim=store.claim_daily_job))
    if services.acme is not None:
        tasks.append(LeaderOnly(services.acme.manager, "acme", lead))
    return tasks


async def run(config: Config, worker: WorkerSetup | None = None) -> None:
    """Serve until stopped: as the primary process (``worker`` None), or as one of its workers."""
    # one server per data_dir; the cross-process tests set SHARED_DATA_DIR_FOR_TESTS to run two on purpose
    claim = ServeLock(config.data_dir) if worker is None and not os.environ.get(SHARED_DATA_DIR_FOR_TESTS) else None
    try:
        await _run_services(config, worker)
    finally:
        if claim is not None:
            claim.release()


async def _run_services(config: Config, worker: WorkerSetup | None) -> None:
    if worker is None:
        _make_private(config.data_dir)
    services = await build_services(config, primary=worker is None)
    if worker is None:
        _say_what_runs(services)
        if config.acme.directory:
            services.acme = _build_acme(services)
    if worker_count(config) > 1:
        try:
            _share_counts(services, worker.index if worker is not None else 0)
        except BaseException:
            await services.store.close()
            raise
    # the primary's alone: nothing twice; a worker only reports its counters for /metrics
    tasks = background_tasks(services) if worker is None else [MetricsExport(config.data_dir, worker.index)]
    if worker is not None:
        services.queue_runner.on_poke = worker.poke_primary_queue
    started: list[BackgroundTask] = []
    pool: WorkerPool | None = None
    try:
        await services.authenticator.start()
        await start_listeners(services, worker.sockets if worker is not None else None)
        if services.web is not None:  # the listeners bound after the web's own (https) are known now
            services.web.ports.update(served_ports(services))  # type: ignore[attr-defined]
        workers = worker_count(config) if worker is None else 1
        if workers > 1:
            pool = services.pool = WorkerPool(config, _shared_sockets(services), workers, services.balance)
            await pool.start()
        for task in tasks:
            await task.start()
            started.append(task)
        stop = asyncio.Event()
        _install_signal_handlers(services, stop, pool)
        if worker is not None:
            _catch_up_tls(services)  # a SIGHUP ignored while starting (see __main__.py)
            worker.watch_parent(stop.set)
            log_event(log, "info", "worker ready", worker=worker.index)
        else:
            log_event(log, "info", "ready", hostname=config.hostname, data_dir=str(config.data_dir), workers=workers,
                      event_loop=type(asyncio.get_running_loop()).__module__.partition(".")[0])
        await stop.wait()
        log_event(log, "info", "stopping", grace_seconds=STOP_GRACE)
    finally:
        await asyncio.gather(*(listener.stop(STOP_GRACE) for listener in services.listeners),
                             *([pool.stop(STOP_GRACE)] if pool is not None else []))
        for task in reversed(started):
            await task.stop(STOP_GRACE)
        services.authenticator.close()
        await services.store.close()
    log_event(log, "info", "stopped")


def _say_what_runs(services: Services) -> None:
    """One line each at start: which file, which data_dir, which certificate (listeners follow)."""
    config = services.config
    log_event(log, "info", "configuration", file=str(config.source) if config.source else "none (built-in defaults)")
    log_event(log, "info", "data_dir", path=str(config.data_dir),
              store="PostgreSQL ([store] url)" if config.store.url else "SQLite in the data_dir")
    log_event(log, "info", "certificate", source=services.certificate.description)


def _build_acme(services: Services) -> ACME:
    async def domains() -> list[str]:
        return [domain.name for domain in await services.store.list_domains()]

    def issued(certificate: Wanted, files: CertFiles) -> None:
        if certificate.main and services.config.tls.cert is None:  # configured files always win
            services.tls.use(files.cert, files.key)
            if services.pool is not None:
                services.pool.signal(signal.SIGHUP)  # the workers load it too
            log_event(log, "info", "TLS certificate replaced", cert=str(files.cert))

    return build_acme(services.config, services.tls, domains, issued)


def _share_counts(services: Services, index: int) -> None:
    """With workers: the load board, on which every limit counts all processes together."""
    config = services.config
    services.balance = LoadBoard(config.data_dir / LOAD_BOARD, worker_count(config), index,
                                 counters=2 * len(services.limiters))
    for limiter in services.limiters.values():
        limiter.board = services.balance


def _make_private(data_dir: Path) -> None:
    """An older install left the data_dir readable by every local user: close it (``store/files.py``)."""
    try:
        repaired = repair(data_dir)
    except OSError as exc:  # e.g. a file of another owner: ``pillarbox store check`` names it
        log_event(log, "error", "cannot make the data_dir private", data_dir=str(data_dir), error=str(exc))
        return
    if repaired:
        log_event(log, "warning", "file modes repaired: the data_dir was open to other users",
                  data_dir=str(data_dir), paths=len(repaired))


def _install_signal_handlers(services: Services, stop: asyncio.Event, pool: WorkerPool | None) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload(services, pool))
    loop.add_signal_handler(QUEUE_POKE, services.queue_runner.poke)


def _reload(services: Services, pool: WorkerPool | None) -> None:
    _reload_tls(services)
    if pool is not None:
        pool.signal(signal.SIGHUP)


def _catch_up_tls(services: Services) -> None:
    if current_certificate(services.config).cert != services.tls.cert_path:
        _reload_tls(services)


def _reload_tls(services: Services) -> None:
    if services.acme is not None:
        services.acme.manager.poke()  # e.g. `pillarbox acme renew`
    try:
        source = current_certificate(services.config)
        services.tls.use(source.cert, source.key)
    except ConfigError as exc:
        log_event(log, "error", "TLS reload failed; keeping the old certificate", error=str(exc))
        return
    log_event(log, "info", "TLS certificate reloaded", cert=str(services.tls.cert_path))


def serve(config: Config, worker: WorkerSetup | None = None) -> int:
    """Run the server until a stop signal; the exit status for the CLI."""
    setup_logging(config.log.level, config.log.format)
    set_node_name(config.node or None)
    if worker is not None:
        set_process_label(str(worker.index))
    elif worker_count(config) > 1:
        set_process_label("0")
    with asyncio.Runner(loop_factory=loop_factory(config.event_loop)) as runner:
        runner.run(run(config, worker))
    return 0


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (``auto``) or asked for: its transports and scheduling in C
    take about a tenth off the event loop's CPU per SMTP message; None: asyncio's own."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError('event_loop = "uvloop", but uvloop is not installed') from None
        return None
    return uvloop.new_event_loop
