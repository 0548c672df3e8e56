"""One way to log in for every protocol: password checks, SASL exchanges, throttling.

SMTP AUTH, IMAP LOGIN/AUTHENTICATE and POP3 USER/PASS/AUTH all come here, so the rules hold
everywhere alike: argon2id verification off the event loop, a locked-out IP or account refused
before any hash is computed, every failure answered late (so guessing is slow even on one
connection), counted per IP and per account, and logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from pillarbox.address import AddressError
from pillarbox.auth import sasl
from pillarbox.auth.passwords import parse_scram, verify_password_async
from pillarbox.auth.secrets import secret_hash
from pillarbox.auth.throttle import LoginThrottle
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.store.api import Store
from pillarbox.store.records import Account

log = get_logger("auth")
WEB_ONLY_SETTING = "main_password_web_only"
"""The account setting (``admin/ops_account.py``) that keeps the main password off IMAP/POP3/SMTP."""
HISTORY_EVERY = 600.0
LOGINS = Counter("pillarbox_logins_total", "Login attempts by protocol and result", ("protocol", "result"))


class LoginRefused(Exception):
    """Wrong credentials, unknown user or a locked-out client (the caller answers the same for all)."""

    def __init__(self, reason: str, locked: bool = False) -> None:
        super().__init__(reason)
        self.locked = locked


@dataclass(frozen=True)
class SaslContinue:
    challenge: bytes


@dataclass(frozen=True)
class SaslSuccess:
    account: Account
    additional_data: bytes | None


class Authenticator:
    def __init__(self, store: Store, throttle: LoginThrottle) -> None:
        self.store = store
        self.throttle = throttle
        self._remembered: dict[tuple[str, str, str], float] = {}

    async def login(self, protocol: str, ip: str, username: str, password: str) -> Account:
        """Check a user name and password; raises LoginRefused (after the failure delay)."""
        await self.check_not_locked(protocol, ip, username)
        account = await self.lookup(username)
        credentials = await self.store.get_credentials(account.address) if account else None
        if account is None or credentials is None:
            raise await self.refuse(protocol, ip, username, "unknown user")
        if await self._main_password_allowed(account.address, protocol) and await verify_password_async(
                credentials.password_hash, password):
            return await self.succeed(protocol, ip, account)
        if protocol != "web" and await self._app_password(account.address, password):
            return await self.succeed(protocol, ip, account)
        raise await self.refuse(protocol, ip, username, "bad password")

    async def _main_password_allowed(self, address: str, protocol: str) -> bool:
        """The account's main password works everywhere, unless its owner limited it to the web."""
        if protocol == "web" or not hasattr(self.store, "account_settings"):
            return True
        return not (await self.store.account_settings(address)).get(WEB_ONLY_SETTING)

    async def _app_password(self, address: str, password: str) -> bool:
        """One of the account's app passwords (``admin/ops_account.py``): mail protocols only."""
        use = getattr(self.store, "use_app_password", None)
        return bool(use and len(password) < 64 and await use(address, secret_hash(password)))

    def start_sasl(self, protocol: str, ip: str, mechanism: str) -> SaslExchange | None:
        mech = sasl.create(mechanism)
        return SaslExchange(self, protocol, ip, mech) if mech is not None else None

    async def lookup(self, username: str) -> Account | None:
        try:
            return await self.store.get_account(username)
        except AddressError:
            return None

    async def check_not_locked(self, protocol: str, ip: str, username: str | None) -> None:
        if self.throttle.is_locked(await self.throttle.standing(ip, username)):
            LOGINS.inc(protocol=protocol, result="locked")
            log_event(log, "warning", "login refused: too many failures", protocol=protocol, ip=ip, user=username)
            raise LoginRefused("too many failures", locked=True)

    async def refuse(self, protocol: str, ip: str, username: str | None, reason: str) -> LoginRefused:
        """Count and log a failure, wait the failure delay, and return the error to raise."""
        delay = self.throttle.failure_delay(await self.throttle.standing(ip, None))
        await self.throttle.record_failure(ip, username)
        LOGINS.inc(protocol=protocol, result="failure")
        log_event(log, "info", "login failed", protocol=protocol, ip=ip, user=username, reason=reason)
        await asyncio.sleep(delay)
        return LoginRefused(reason)

    async def succeed(self, protocol: str, ip: str, account: Account) -> Account:
        await self.throttle.record_success(account.address)
        await self._remember(account.address, protocol, ip)
        LOGINS.inc(protocol=protocol, result="success")
        log_event(log, "info", "login", protocol=protocol, ip=ip, user=account.address)
        return account


    async def _remember(self, address: str, protocol: str, ip: str) -> None:
        """Note the login for the account page, once per (account, protocol, IP) and ``HISTORY_EVERY``
        seconds: a client polling every minute must not cost a store write each time."""
        record = getattr(self.store, "record_login", None)
        key, now = (address, protocol, ip), time.monotonic()
        if record is None or now - self._remembered.get(key, -HISTORY_EVERY) < HISTORY_EVERY:
            return
        if len(self._remembered) > 10_000:
            self._remembered.clear()
        self._remembered[key] = now
        await record(address, protocol, ip)


class SaslExchange:
    """Drives one sasl.Mechanism: challenges out, responses in, credentials checked here."""

    def __init__(self, authenticator: Authenticator, protocol: str, ip: str, mechanism: sasl.Mechanism) -> None:
        self._auth = authenticator
        self._protocol = protocol
        self._ip = ip
        self._mechanism = mechanism
        self._username: str | None = None

    @property
    def name(self) -> str:
        return self._mechanism.name

    async def start(self, initial_response: bytes | None) -> SaslContinue | SaslSuccess:
        """``initial_response`` is already base64-decoded. Raises sasl.SASLError or LoginRefused."""
        await self._auth.check_not_locked(self._protocol, self._ip, None)
        return await self._advance(lambda: self._mechanism.start(initial_response))

    async def step(self, response: bytes) -> SaslContinue | SaslSuccess:
        return await self._advance(lambda: self._mechanism.step(response))

    async def _advance(self, make_step: Callable[[], sasl.Step]) -> SaslContinue | SaslSuccess:
        try:
            step = make_step()
            if isinstance(step, sasl.NeedCredentials):
                self._username = step.username
                step = await self._supply(step.username)
        except sasl.AuthenticationFailed as exc:
            raise await self._auth.refuse(self._protocol, self._ip, self._username, exc.reason) from None
        if isinstance(step, sasl.Challenge):
            return SaslContinue(step.data)
        assert isinstance(step, sasl.Done)
        return await self._finish(step)

    async def _supply(self, username: str) -> sasl.Step:
        await self._auth.check_not_locked(self._protocol, self._ip, username)
        account = await self._auth.lookup(username)
        credentials = await self._auth.store.get_credentials(account.address) if account else None
        if account is not None and not await self._auth._main_password_allowed(account.address, self._protocol):
            credentials = None  # SCRAM proves the main password, which its owner kept for the web
        assert isinstance(self._mechanism, sasl.ScramSha256)
        return self._mechanism.supply_credentials(parse_scram(credentials.scram_sha256) if credentials else None)

    async def _finish(self, done: sasl.Done) -> SaslSuccess:
        if done.verified:
            account = await self._auth.lookup(done.authcid)
            if account is None:
                raise await self._auth.refuse(self._protocol, self._ip, done.authcid, "unknown user")
            return SaslSuccess(await self._auth.succeed(self._protocol, self._ip, account), done.additional_data)
        assert done.password is not None
        account = await self._auth.login(self._protocol, self._ip, done.authcid, done.password)
        return SaslSuccess(account, None)
