"""Deliver one queued message to the recipients of one destination domain.

Route (MX or smarthost) → per-host TLS policy → a session (reused when one to that host is idle)
→ checks that the peer can take this message at all (SMTPUTF8 for UTF-8 mail, 8BITMIME for an
8-bit body, SIZE) → MAIL/RCPT/DATA with DSN parameters passed on when the peer speaks DSN
(RFC 3461 5.2: otherwise we become responsible for a success report, action "relayed"). A
connection failure or a 4xx to MAIL moves on to the next MX (RFC 5321 5.1); a 5xx is final. The
250 to the final "." is handed to ``record`` (which makes it durable) before anything else happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.mime.header_view import HeaderView
from pillarbox.obs import get_logger, log_event
from pillarbox.outbound import dane
from pillarbox.outbound.connect import ConnectSettings, Session, TLSFailure, TLSReport, open_session
from pillarbox.outbound.mtasts import MTASTS, STSPolicy
from pillarbox.outbound.mx import NoRoute, NullMX, Route, find_route
from pillarbox.outbound.tls_memory import GUARDS, LEVEL_NAMES, TLSMemory, achieved, guarded
from pillarbox.outbound.tlspolicy import HostPolicy
from pillarbox.smtp.client import SMTPClientError
from pillarbox.smtp.client_protocol import Envelope, Extensions, MailTransaction, ServerReply, dsn_rcpt_params
from pillarbox.smtp.deliver_by import Deadline
from pillarbox.smtp.grammar import encode_xtext

log = get_logger("outbound")
IDLE_REUSE = 5.0


class UnusableHost(Exception):
    """This MX host must not be tried now (the next one may be)."""


class NoTLSPath(UnusableHost):
    """RFC 8689 4.2.1: this host offers no path a REQUIRETLS message may take; ``status`` says why
    (5.7.10 no validated TLS, 5.7.30 no REQUIRETLS after it; 5.4.7 no DELIVERBY for a by-mode R message,
    RFC 2852 4.1.4). Unlike a host that cannot be reached, it will not do better later: when every host
    fails so, the message is bounced at once."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OutboundMessage:
    queue_id: str
    sender: str
    raw: bytes
    envid: str | None = None
    ret: str | None = None
    body: str | None = None
    smtputf8: bool = False
    requiretls: bool = False
    priority: int = 0
    deadline: Deadline | None = None
    """RFC 2852 DELIVERBY: passed on as the time left; an R message is not relayed to a host without it."""

    @property
    def requires_tls(self) -> bool:
        """RFC 8689 4.2.1: a REQUIRETLS message with a return path (a bounce is sent all the same)."""
        return self.requiretls and bool(self.sender)

    @cached_property
    def tls_optional(self) -> bool:
        """RFC 8689 3 / 4.2.2: the sender's ``TLS-Required: No`` asks us to ignore the recipient's TLS
        policy (DANE, MTA-STS, and our memory of the TLS it was seen with): STARTTLS when offered,
        unverified, and clear text when not. The REQUIRETLS parameter wins over the field (4.1), and
        a message with more than one such field (3: MUST NOT) gets no exemption."""
        if self.requiretls:
            return False
        values = HeaderView.parse(self.raw).values("tls-required")
        return len(values) == 1 and values[0].strip().lower() == "no"


@dataclass(frozen=True)
class Target:
    position: int
    address: str
    notify: tuple[str, ...] = ()
    orcpt: str | None = None


@dataclass(frozen=True)
class Outcome:
    position: int
    kind: str
    """``sent`` (a DSN-aware peer took it), ``relayed`` (a peer without DSN took it), ``temporary``,
    ``permanent``."""
    status: str
    diagnostic: str
    remote_mta: str | None = None


Record = Callable[[list[Outcome]], Awaitable[None]]


@dataclass(frozen=True)
class Routing:
    port: int
    relay: object = None
    routes: tuple = ()  # type: ignore[type-arg]
    mta_sts: bool = True
    dane: bool = True
    relay_tls: str = "starttls"


class SessionPool:
    """Idle sessions by (host, port), reused for the next message to the same host for a few seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle: dict[tuple[str, int], list[tuple[Session, float]]] = {}
        self._clock = clock

    def take(self, host: str, port: int, policy: HostPolicy | None = None) -> Session | None:
        """An idle session to ``host`` opened under the same TLS requirements as ``policy`` (a session
        opened with unverified TLS must not carry mail for a domain whose policy demands verification)."""
        sessions = self._idle.get((host, port), [])
        for index in range(len(sessions) - 1, -1, -1):
            session, since = sessions[index]
            if policy is not None and (session.policy.kind, session.policy.tlsa) != (policy.kind, policy.tlsa):
                continue
            del sessions[index]
            if self._clock() - since < IDLE_REUSE and not session.client.is_closing:
                return session
        return None

    def give(self, session: Session, port: int) -> None:
        if session.exhausted:  # RFC 9422 MAILMAX: this session takes no more mail
            return
        self._idle.setdefault((session.host, port), []).append((session, self._clock()))

    async def close_idle(self, everything: bool = False) -> None:
        """QUIT the sessions idle too long (``everything``: all, at shutdown), all at once: a peer that
        does not answer costs the QUIT's timeout once, not once per session (a stop must end in time)."""
        now = self._clock()
        leaving = []
        for key, sessions in list(self._idle.items()):
            keep = [(s, t) for s, t in sessions if not everything and now - t < IDLE_REUSE]
            leaving += [session for session, since in sessions if (session, since) not in keep]
            self._idle[key] = keep
        await asyncio.gather(*(session.client.quit() for session in leaving))


async def _not_counted(policy: HostPolicy, host: str, result: str) -> None:
    return None


def _all(targets: Sequence[Target], kind: str, status: str, text: str, mta: str | None = None) -> list[Outcome]:
    return [Outcome(t.position, kind, status, text, mta) for t in targets]


@dataclass
class _Attempt:
    """One delivery attempt to a domain: what went wrong at each host, and what TLS it was seen with."""

    domain: str
    seen: int | None
    errors: list[str] = field(default_factory=list)
    no_path: list[NoTLSPath] = field(default_factory=list)

    def refuse(self, exc: UnusableHost, text: str | None = None) -> None:
        if isinstance(exc, NoTLSPath):
            self.no_path.append(exc)
        self.errors.append(text or str(exc))

    def outcomes(self, targets: Sequence[Target], hosts: int) -> list[Outcome]:
        """Temporary, unless no host offered a REQUIRETLS message a path (RFC 8689 4.2.1: bounce)."""
        text = "x-pillarbox; " + ("; ".join(self.errors)[-900:] or f"no MX host of {self.domain} could be reached")
        if self.no_path and len(self.no_path) == hosts:
            statuses = {p.status for p in self.no_path}
            status = next(s for s in ("5.7.30", "5.4.7", "5.7.10") if s in statuses)
            return _all(targets, "permanent", status, text)
        return _all(targets, "temporary", "4.4.1", text)


def _guard(checked: tuple[HostPolicy, TLSReport], seen: int) -> tuple[HostPolicy, TLSReport]:
    """``tls_memory``'s policy for an opportunistic host; a probe's failed verification is no failure."""
    policy = guarded(checked[0], seen)
    return policy, _not_counted if policy.kind == "probe" else checked[1]


class Deliverer:
    def __init__(self, resolver: Resolver, settings: ConnectSettings, routing: Routing, mtasts: MTASTS | None,
                 tls_report: TLSReport, memory: TLSMemory | None = None) -> None:
        self.resolver = resolver
        self.memory = memory
        self.settings = settings
        self.routing = routing
        self.mtasts = mtasts
        self.tls_report = tls_report
        self.pool = SessionPool()

    async def deliver(self, message: OutboundMessage, domain: str, targets: Sequence[Target],
                      record: Record) -> list[Outcome]:
        try:
            route = await find_route(domain, self.resolver, self.routing.port, self.routing.routes,
                                     self.routing.relay)  # type: ignore[arg-type]
        except NullMX:
            return _all(targets, "permanent", "5.1.10", f"x-pillarbox; {domain} accepts no mail (null MX)")
        except NoRoute as exc:
            return _all(targets, "permanent", "5.1.2", f"x-pillarbox; {exc}")
        except DNSTemporaryError as exc:
            return _all(targets, "temporary", "4.4.3", f"x-pillarbox; DNS lookup failed: {exc}")
        sts = await self._sts(domain, route)
        return await self._try_hosts(message, domain, route, sts, targets, record)

    async def _sts(self, domain: str, route: Route) -> STSPolicy | None:
        if route.relay or self.mtasts is None or not self.routing.mta_sts:
            return None
        policy = await self.mtasts.policy(domain)
        return policy if policy is not None and policy.mode != "none" else None

    async def _host_policy(self, domain: str, host: str, route: Route, sts: STSPolicy | None) -> HostPolicy:
        if route.relay:
            return HostPolicy("relay" if self.routing.relay_tls != "none" else "opportunistic", domain)
        if self.routing.dane and await self._dane_applies(domain, host):
            policy = await self._dane(domain, host, route.port)
            if policy is not None:
                return policy
        if sts is not None:
            return HostPolicy("sts" if sts.mode == "enforce" else "sts-testing", domain)
        return HostPolicy("opportunistic", domain)

    async def _dane_applies(self, domain: str, host: str) -> bool:
        """RFC 7672 2.2.1: DANE holds for an MX host only when its name is vouched for by DNSSEC: the
        domain's MX RRset validated (or, for the implicit MX, the domain's own address records)."""
        if host == domain:
            return await self._addresses_authenticated(host)
        return await self._mx_authenticated(domain)

    async def _dane(self, domain: str, host: str, port: int) -> HostPolicy | None:
        """The host's TLSA records: first at the name its CNAME chain ends at, when that expansion
        is validated, then at the host name itself (RFC 7672 2.2.3)."""
        try:
            canonical, secure = await self.resolver.canonical(host)
        except DNSTemporaryError:
            canonical, secure = host, False
        names = (canonical, host) if secure and canonical != host else (host,)
        for name in names:
            try:
                records, signed = await self.resolver.tlsa(dane.tlsa_name(name, port))
            except DNSTemporaryError as exc:
                # RFC 7672 2.2: for a host with DNSSEC-signed addresses a failed TLSA lookup may hide
                # a DANE policy (a downgrade): that host is not used; elsewhere it means "no TLSA"
                if await self._addresses_authenticated(host):
                    raise UnusableHost(f"TLSA lookup failed for a DNSSEC-signed host: {exc}") from exc
                records, signed = [], False
            if signed and dane.usable(records):
                return HostPolicy("dane", domain, tuple(records), (name, host) if name != host else (host,))
        return None

    async def _addresses_authenticated(self, host: str) -> bool:
        try:
            return await self.resolver.addresses_authenticated(host)
        except DNSTemporaryError:
            return False  # the connection would fail on the same lookup anyway

    async def _listed(self, policy: HostPolicy, host: str,
                      sts: STSPolicy | None) -> tuple[HostPolicy, TLSReport] | None:
        """RFC 8461 4.1: an MX host the policy does not list is not used in enforce mode; in testing mode
        the failure is reported and the host gets what it would get without a policy (opportunistic TLS)."""
        if sts is None or policy.kind not in ("sts", "sts-testing") or sts.allows(host):
            return policy, self.tls_report
        await self.tls_report(policy, host, "mx-not-listed")
        if policy.required:
            return None
        return HostPolicy("opportunistic", policy.policy_domain), _not_counted

    async def _try_hosts(self, message: OutboundMessage, domain: str, route: Route, sts: STSPolicy | None,
                         targets: Sequence[Target], record: Record) -> list[Outcome]:
        attempt = _Attempt(domain, await self._seen(domain, route))
        for host in route.hosts:
            session = await self._session(message, attempt, host, route, sts)
            if session is None:
                continue
            await self._remember(attempt, session)
            refusal = _lacking(message, session.client.extensions, host)
            if refusal is not None:
                attempt.refuse(refusal)
                self.pool.give(session, route.port)  # fine for other mail (RFC 8689 4.2.1 MAY)
                continue
            result = await self._transact(session, message, targets, record, route)
            if result is not None:
                return result
            attempt.errors.append(f"{host}: connection lost or 4xx to MAIL")
        outcomes = attempt.outcomes(targets, len(route.hosts))
        self._log(message, targets, outcomes, "-", None, "-")
        return outcomes

    async def _session(self, message: OutboundMessage, attempt: _Attempt, host: str, route: Route,
                       sts: STSPolicy | None) -> Session | None:
        """A session with ``host`` under the TLS it must have, or None (the reason noted in ``attempt``)."""
        try:
            checked = await self._checked_policy(message, attempt, host, route, sts)
        except UnusableHost as exc:
            attempt.refuse(exc, f"{host}: {exc}")
            return None
        if checked is None:
            attempt.errors.append(f"{host}: not listed in the MTA-STS policy of {attempt.domain}")
            return None
        policy, report = checked
        session = self.pool.take(host, route.port, policy)
        if session is not None:
            return session
        try:
            return await open_session(host, policy, self.resolver, self._settings(route), report)
        except SMTPClientError as exc:
            if isinstance(exc, TLSFailure):
                self._tls_refused(attempt, host, policy, exc, message.requires_tls)
            attempt.errors.append(str(exc))
            return None

    async def _checked_policy(self, message: OutboundMessage, attempt: _Attempt, host: str, route: Route,
                              sts: STSPolicy | None) -> tuple[HostPolicy, TLSReport] | None:
        """The TLS ``host`` must give ``message`` and where its failures are counted; None: not this host."""
        if message.tls_optional and not route.relay:  # RFC 8689 8: as if we knew no DANE or MTA-STS
            return HostPolicy("opportunistic", attempt.domain), _not_counted
        checked = await self._listed(await self._host_policy(attempt.domain, host, route, sts), host, sts)
        if checked is not None and attempt.seen is not None:
            checked = _guard(checked, attempt.seen)
        if checked is not None and message.requires_tls:
            checked = await self._requiretls(attempt.domain, host, route, checked, sts)
        return checked

    def _tls_refused(self, attempt: _Attempt, host: str, policy: HostPolicy, failure: TLSFailure,
                     requiretls: bool) -> None:
        if requiretls:
            attempt.no_path.append(NoTLSPath(str(failure), "5.7.10"))
        if policy.kind in GUARDS:
            log_event(log, "warning", "TLS downgrade refused", domain=attempt.domain, mx=host,
                      seen=LEVEL_NAMES[attempt.seen or 0], error=str(failure),
                      hint=f"pillarbox tls forget {attempt.domain}")

    async def _seen(self, domain: str, route: Route) -> int | None:
        """The best TLS ``domain`` was seen with (``tls_memory``); None when not remembered (a relay)."""
        if self.memory is None or route.relay:
            return None
        return await self.memory.tls_seen(domain)

    async def _remember(self, attempt: _Attempt, session: Session) -> None:
        level = achieved(session)
        if self.memory is not None and attempt.seen is not None and level > attempt.seen:
            await self.memory.raise_tls_seen(attempt.domain, level)
            attempt.seen = level

    async def _requiretls(self, domain: str, host: str, route: Route, checked: tuple[HostPolicy, TLSReport],
                          sts: STSPolicy | None) -> tuple[HostPolicy, TLSReport]:
        """RFC 8689 4.2.1 steps 2 and 4: the host's name vouched for (DNSSEC on the MX RRset, or the
        MTA-STS policy lists it; a relay and the implicit MX are named by us) and its certificate
        verified (Web PKI for that name, or DANE)."""
        policy, report = checked
        if policy.kind in ("dane", "sts") or (policy.kind == "relay" and self.routing.relay_tls != "none"):
            return checked
        if route.relay:
            raise NoTLSPath("the relay is used without TLS", "5.7.10")
        listed = sts is not None and sts.allows(host)
        if listed or host == domain or await self._mx_authenticated(domain):
            return HostPolicy("requiretls", policy.policy_domain), report
        raise NoTLSPath(f"neither DNSSEC nor MTA-STS vouches for the MX host of {domain}", "5.7.10")

    async def _mx_authenticated(self, domain: str) -> bool:
        try:
            return await self.resolver.mx_authenticated(domain)
        except DNSTemporaryError:
            return False

    def _settings(self, route: Route) -> ConnectSettings:
        if not route.relay:
            return replace(self.settings, port=route.port, username="", password="", implicit_tls=False)
        return replace(self.settings, port=route.port, implicit_tls=self.routing.relay_tls == "implicit")

    async def _transact(self, session: Session, message: OutboundMessage, targets: Sequence[Target],
                        record: Record, route: Route) -> list[Outcome] | None:
        """Outcomes, or None to try the next host (connection failure, 4xx to MAIL). The peer's RFC 9422
        limits are kept: at most RCPTMAX recipients a transaction, at most MAILMAX transactions a
        session (recipients left when it is reached are tried again with the next queue run)."""
        size = session.client.extensions.limit("RCPTMAX") or len(targets) or 1
        outcomes: list[Outcome] = []
        for start in range(0, len(targets), size):
            batch = targets[start:start + size]
            if session.exhausted:
                return outcomes + _all(targets[start:], "temporary", "4.5.3",
                                       "x-pillarbox; the peer's MAILMAX was reached, the rest in another session")
            last = start + size >= len(targets)
            result = await self._transact_batch(session, message, batch, record, route, last)
            if result is None:
                return None if not outcomes else outcomes + _all(
                    targets[start:], "temporary", "4.4.2", "x-pillarbox; connection lost", session.host)
            outcomes += result
        return outcomes

    async def _transact_batch(self, session: Session, message: OutboundMessage, targets: Sequence[Target],
                              record: Record, route: Route, last: bool) -> list[Outcome] | None:
        ext = session.client.extensions
        refusal = _cannot_take(message, targets, ext)
        if refusal is not None:
            self.pool.give(session, route.port)
            return _all(targets, "permanent", refusal.status(), refusal.diagnostic(), session.host)
        transaction = MailTransaction(_envelope(message, targets, ext), message.raw, "PIPELINING" in ext)
        session.transactions += 1
        try:
            await session.client.run(transaction)
        except SMTPClientError:
            await session.client.close()
            if transaction.sending_body and transaction.final_reply is None and transaction.data_reply:
                return _all(targets, "temporary", "4.4.2", "x-pillarbox; connection lost after the message was sent",
                            session.host)
            return None
        if transaction.mail_reply is not None and transaction.mail_reply.is_transient:
            await session.client.quit()
            return None
        outcomes = self._outcomes(transaction, targets, session, "DSN" in ext)
        await record([o for o in outcomes if o.kind in ("sent", "relayed")])
        self._log(message, targets, outcomes, session.host, session.client.tls, session.policy.describe())
        await self._reuse(session, transaction, route.port, last)
        return outcomes

    async def _reuse(self, session: Session, transaction: MailTransaction, port: int, give: bool = True) -> None:
        """Ready for the next transaction; ``give``: back to the pool (unless MAILMAX is reached: QUIT)."""
        try:
            if transaction.final_reply is None or not transaction.final_reply.is_positive:
                await session.client.rset()
            if give and session.exhausted:
                await session.client.quit()
                return
        except SMTPClientError:
            await session.client.close()
            return
        if give:
            self.pool.give(session, port)

    def _outcomes(self, transaction: MailTransaction, targets: Sequence[Target], session: Session,
                  dsn: bool) -> list[Outcome]:
        outcomes = []
        for target, reply in zip(targets, transaction.verdicts(), strict=True):
            if reply.is_positive:
                kind = "sent" if dsn else "relayed"
            else:
                kind = "temporary" if reply.is_transient else "permanent"
            outcomes.append(Outcome(target.position, kind, reply.status(), reply.diagnostic(), session.host))
        return outcomes

    def _log(self, message: OutboundMessage, targets: Sequence[Target], outcomes: Sequence[Outcome], mx: str,
             tls: dict | None, policy: str) -> None:  # type: ignore[type-arg]
        for target, outcome in zip(targets, outcomes, strict=True):
            log_event(log, "info", "delivery attempt", queue_id=message.queue_id, recipient=target.address, mx=mx,
                      tls=tls["version"] if tls else "none", policy=policy, result=outcome.kind,
                      reply=outcome.diagnostic)


def _needs_utf8(message: OutboundMessage, targets: Sequence[Target]) -> bool:
    return message.smtputf8 or not message.sender.isascii() or any(not t.address.isascii() for t in targets)


def _cannot_take(message: OutboundMessage, targets: Sequence[Target], ext: Extensions) -> ServerReply | None:
    """RFC 6531 3.4 / RFC 6152 / RFC 1870: refuse ourselves what the peer cannot take (a permanent bounce)."""
    if _needs_utf8(message, targets) and "SMTPUTF8" not in ext:
        return ServerReply(553, ("5.6.7 the receiving server does not support SMTPUTF8 (UTF-8 addresses)",))
    if _is_8bit(message) and "8BITMIME" not in ext and "SMTPUTF8" not in ext:
        return ServerReply(554, ("5.6.3 the receiving server does not accept 8-bit message bodies",))
    limit = ext.size_limit
    if limit is not None and len(message.raw) > limit:
        return ServerReply(552, (f"5.3.4 message size {len(message.raw)} exceeds the server's limit {limit}",))
    return None


def _is_8bit(message: OutboundMessage) -> bool:
    return (message.body or "").upper() == "8BITMIME" or not message.raw.isascii()


def _lacking(message: OutboundMessage, ext: Extensions, host: str) -> NoTLSPath | None:
    """What ``message`` needs of the next hop that ``host`` does not offer."""
    if message.requires_tls and "REQUIRETLS" not in ext:
        return NoTLSPath(f"{host}: no REQUIRETLS after STARTTLS", "5.7.30")
    if message.deadline is not None and message.deadline.returns and "DELIVERBY" not in ext:
        return NoTLSPath(f"{host}: no DELIVERBY for a by-mode R message (RFC 2852 4.1.4)", "5.4.7")
    return None


def _envelope(message: OutboundMessage, targets: Sequence[Target], ext: Extensions) -> Envelope:
    params = []
    if "SIZE" in ext:
        params.append(f"SIZE={len(message.raw)}")
    if _is_8bit(message) and "8BITMIME" in ext:
        params.append("BODY=8BITMIME")
    if _needs_utf8(message, targets):
        params.append("SMTPUTF8")
    if message.requiretls and "REQUIRETLS" in ext:  # RFC 8689 4.2.1; a bounce carries it where it can
        params.append("REQUIRETLS")
    if message.priority and "MT-PRIORITY" in ext:  # RFC 6710 5: passed on where it is understood
        params.append(f"MT-PRIORITY={message.priority}")
    if message.deadline is not None and "DELIVERBY" in ext:  # RFC 2852 4.1.4: the time left
        params.append(message.deadline.parameter(time.time()))
    rcpt: tuple[tuple[str, ...], ...] = tuple(() for _ in targets)
    if "DSN" in ext:
        if message.ret:
            params.append(f"RET={message.ret}")
        if message.envid:
            params.append(f"ENVID={encode_xtext(message.envid)}")
        rcpt = tuple(dsn_rcpt_params(t.notify, t.orcpt) for t in targets)
    return Envelope(message.sender, tuple(t.address for t in targets), tuple(params), rcpt)
