"""Which certificates to order and when: the ACME background job of the primary server process.

Certificates: one for the host name (every mail listener serves it), and one per mail domain for its
``mta-sts.`` and ``autoconfig.`` names (served on 443 by SNI). They are separate on purpose: a domain
whose records are not published yet must not keep the host name, and so all mail TLS, from renewing.

When: at once when there is no certificate or its names changed; otherwise when the CA's renewal
information (RFC 9773, asked at most every ``ARI_INTERVAL``) suggests, else at two thirds of the
lifetime (Let's Encrypt's own advice: 60 of 90 days, leaving a month for failures). A failed order is
retried after ``BACKOFF_FIRST`` doubling to ``BACKOFF_MAX`` (Let's Encrypt allows 5 failed validations
per name and hour; this stays under it). ``pillarbox acme renew`` leaves a request file and sends
SIGHUP, which pokes the manager: every certificate is then renewed now.

Who: exactly one process orders. The primary runs this job; its workers get SIGHUP after an issuance
and reload the files. ``leader`` is the hook for several nodes on one PostgreSQL store: a node that is
not the leader (advisory lock) only picks up the files the leader wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from pillarbox.acme import orders
from pillarbox.acme.files import CertFiles, acme_dir, cert_files
from pillarbox.acme.status import ACMEStatus, CertificateStatus, save_status
from pillarbox.obs import Counter, Gauge, get_logger, log_event

BACKOFF_FIRST = 300.0
BACKOFF_MAX = 12 * 3600.0
ARI_INTERVAL = 6 * 3600.0
RECHECK = 3600.0  # new domains and renewal requests are noticed at least this often
RENEW_REQUEST = "renew"  # a file in data_dir/acme: renew every certificate now

ORDERS = Counter("pillarbox_acme_orders_total", "ACME certificate orders by certificate and result",
                 ("certificate", "result"))
FAILURES = Gauge("pillarbox_acme_failures", "ACME orders failed in a row, per certificate", ("certificate",))
EXPIRY = Gauge("pillarbox_acme_certificate_expiry_timestamp_seconds",
               "When each ACME certificate expires (Unix time)", ("certificate",))
log = get_logger("acme")


@dataclass(frozen=True)
class Wanted:
    """One certificate: its file name, the names it covers, and whether the mail listeners serve it."""

    name: str
    names: tuple[str, ...]
    main: bool = False


def wanted_certificates(hostname: str, domains: list[str]) -> list[Wanted]:
    return [Wanted(hostname, (hostname,), main=True),
            *(Wanted(domain, (f"mta-sts.{domain}", f"autoconfig.{domain}")) for domain in sorted(domains))]


Issue = Callable[[Wanted], orders.Issued]  # blocking: runs in a thread
RenewalAdvice = Callable[[bytes], float | None]  # blocking: the CA's suggested time for a full chain


class ACMEManager:
    def __init__(self, data_dir: Path, directory: str, hostname: str,
                 domains: Callable[[], Awaitable[list[str]]], issue: Issue, advice: RenewalAdvice,
                 on_issued: Callable[[Wanted, CertFiles], None], clock: Callable[[], float] = time.time,
                 leader: Callable[[], Awaitable[bool]] | None = None) -> None:
        self.data_dir, self.directory, self.hostname = Path(data_dir), directory, hostname
        self._domains, self._issue, self._advice, self._on_issued = domains, issue, advice, on_issued
        self._clock, self._leader = clock, leader
        self._state: dict[str, CertificateStatus] = {}
        self._retry_at: dict[str, float] = {}
        self._advised: dict[str, tuple[float, float | None]] = {}  # name -> (asked at, suggestion)
        self._seen: dict[str, float] = {}  # name -> mtime of the files last handed to on_issued
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # the BackgroundTask protocol (background.py)
    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="acme")

    async def stop(self, grace: float = 10.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def poke(self) -> None:
        """Look again now (SIGHUP: a renewal request, a new domain)."""
        self._poked.set()

    async def _loop(self) -> None:
        while True:
            try:
                delay = await self.run_due()
            except Exception as exc:  # a bug or the store: log, and try again later
                log_event(log, "error", "ACME check failed", error=f"{type(exc).__name__}: {exc}")
                delay = BACKOFF_FIRST
            self._poked.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(delay, RECHECK)):
                    await self._poked.wait()

    async def run_due(self) -> float:
        """Order every certificate that is due now; the seconds until the next one is."""
        wanted = wanted_certificates(self.hostname, await self._domains())
        if self._leader is not None and not await self._leader():
            self._pick_up(wanted)
            return RECHECK
        forced = self._take_renew_request()
        for certificate in wanted:
            await self._consider(certificate, forced)
        self._state = {w.name: self._state[w.name] for w in wanted}
        save_status(self.data_dir, ACMEStatus(self.directory, list(self._state.values())))
        upcoming = min(s.next_attempt or 0.0 for s in self._state.values())
        return max(0.0, upcoming - self._clock())

    async def _consider(self, certificate: Wanted, forced: bool) -> None:
        files = cert_files(self.data_dir, certificate.name)
        state = self._state.setdefault(certificate.name, CertificateStatus(certificate.name, list(certificate.names)))
        state.names = list(certificate.names)
        leaf = _describe(state, files)
        due = self._clock() if forced else max(await self._renew_at(certificate, files, leaf),
                                               self._retry_at.get(certificate.name, 0.0))
        state.next_attempt = due
        if due <= self._clock():
            await self._attempt(certificate, state, files)

    async def _renew_at(self, certificate: Wanted, files: CertFiles, leaf: x509.Certificate | None) -> float:
        if leaf is None or set(_dns_names(leaf)) != set(certificate.names):
            return self._clock()
        start, end = leaf.not_valid_before_utc.timestamp(), leaf.not_valid_after_utc.timestamp()
        suggested = await self._suggestion(certificate.name, files)
        return suggested if suggested is not None else start + (end - start) * 2 / 3

    async def _suggestion(self, name: str, files: CertFiles) -> float | None:
        asked, suggested = self._advised.get(name, (float("-inf"), None))
        if self._clock() - asked >= ARI_INTERVAL:
            chain = files.cert.read_bytes()
            suggested = await asyncio.to_thread(self._advice, chain)
            self._advised[name] = (self._clock(), suggested)
        return suggested

    async def _attempt(self, certificate: Wanted, state: CertificateStatus, files: CertFiles) -> None:
        try:
            issued = await asyncio.to_thread(self._issue, certificate)
        except orders.OrderFailed as exc:
            self._failed(certificate, state, str(exc))
            return
        files.save(issued.fullchain_pem, issued.key_pem)
        self._advised.pop(certificate.name, None)
        self._retry_at.pop(certificate.name, None)
        state.failures, state.last_error, state.last_success = 0, "", self._clock()
        leaf = _describe(state, files)
        state.next_attempt = await self._renew_at(certificate, files, leaf)
        ORDERS.inc(certificate=certificate.name, result="issued")
        FAILURES.set(0, certificate=certificate.name)
        log_event(log, "info", "certificate issued", certificate=certificate.name, names=",".join(certificate.names),
                  serial=state.serial, not_after=int(state.not_after or 0))
        self._hand_over(certificate, files)

    def _failed(self, certificate: Wanted, state: CertificateStatus, error: str) -> None:
        state.failures += 1
        state.last_error = error
        wait = min(BACKOFF_FIRST * 2 ** (state.failures - 1), BACKOFF_MAX)
        self._retry_at[certificate.name] = state.next_attempt = self._clock() + wait
        ORDERS.inc(certificate=certificate.name, result="failed")
        FAILURES.set(state.failures, certificate=certificate.name)
        log_event(log, "warning", "certificate order failed", certificate=certificate.name, error=error,
                  failures=state.failures, retry_in=int(wait))

    def _hand_over(self, certificate: Wanted, files: CertFiles) -> None:
        self._seen[certificate.name] = files.cert.stat().st_mtime
        self._on_issued(certificate, files)

    def _pick_up(self, wanted: list[Wanted]) -> None:
        """Not the leader: hand over the files another process wrote, once each."""
        for certificate in wanted:
            files = cert_files(self.data_dir, certificate.name)
            if files.exists() and self._seen.get(certificate.name) != files.cert.stat().st_mtime:
                self._hand_over(certificate, files)

    def _take_renew_request(self) -> bool:
        request = acme_dir(self.data_dir) / RENEW_REQUEST
        if not request.exists():
            return False
        request.unlink(missing_ok=True)
        log_event(log, "info", "renewing every certificate on request")
        return True


def _describe(state: CertificateStatus, files: CertFiles) -> x509.Certificate | None:
    leaf = files.load()
    if leaf is not None:
        state.not_before = leaf.not_valid_before_utc.timestamp()
        state.not_after = leaf.not_valid_after_utc.timestamp()
        state.serial = format(leaf.serial_number, "x")
        EXPIRY.set(state.not_after, certificate=state.name)
    return leaf


def _dns_names(leaf: x509.Certificate) -> list[str]:
    try:
        return leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        return []


def request_renewal(data_dir: Path) -> None:
    """Ask the running server to renew every certificate (``pillarbox acme renew``; SIGHUP follows)."""
    (acme_dir(data_dir) / RENEW_REQUEST).touch(mode=0o600)
