"""One way to log in for every protocol: password checks, SASL exchanges, throttling.

SMTP AUTH, IMAP LOGIN/AUTHENTICATE and POP3 USER/PASS/AUTH all come here, so the rules hold
everywhere alike:

- nothing is checked on a connection without TLS (the protocols refuse earlier with their own reply;
  this is the last line);
- the throttle (``throttle.py``) is asked first: a locked-out IP is refused without its password being
  looked at, and an account under attack makes untrusted networks wait;
- a password is checked against the verified-credentials cache (``login_cache.py``), else with argon2id
  off the event loop, after the attempt was counted as a failure; an unknown user costs the same work
  (a dummy hash; SCRAM: made-up credentials with a salt from a persistent server secret);
- every refusal, whatever its reason, is answered at the same moment: ``failure_delay`` after the
  attempt began, not after the work, so the time of the answer tells nothing about the user;
- a plaintext login with hashes made under older parameters remakes them (``passwords.py``);
- the main password may be kept for the web by its owner (``WEB_ONLY_SETTING``), and app passwords
  (``admin/ops_account.py``) work on the mail protocols only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from pillarbox.address import AddressError
from pillarbox.auth import sasl
from pillarbox.auth.login_cache import LoginCache
from pillarbox.auth.passwords import PasswordHashing, parse_scram
from pillarbox.auth.secrets import secret_hash
from pillarbox.auth.throttle import Attempt, LoginThrottle, Standing
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.store.api import Store
from pillarbox.store.records import Account, Credentials

log = get_logger("auth")
WEB_ONLY_SETTING = "main_password_web_only"
"""The account setting (``admin/ops_account.py``) that keeps the main password off IMAP/POP3/SMTP."""
HISTORY_EVERY = 600.0
LOGINS = Counter("pillarbox_logins_total", "Login attempts by protocol and result", ("protocol", "result"))
FAKE_SALT_SECRET = "scram-fake-salt"
TOO_MANY = "too many failures"


class LoginRefused(Exception):
    """Wrong credentials, an unknown user, a locked-out client: the caller answers the same for all."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoTLS(LoginRefused):
    """A password offered without TLS: refused before it is looked at. Unlike the other refusals this
    one tells the client nothing about the account, so a protocol may say plainly what is missing."""


@dataclass(frozen=True)
class SaslContinue:
    challenge: bytes


@dataclass(frozen=True)
class SaslSuccess:
    account: Account
    additional_data: bytes | None


@dataclass(frozen=True)
class Refusal:
    """What a refusal needs: who, why, when the attempt began, the standing that sets its delay, and
    how it counts: ``attempt``, the pending check that failed; ``record``, a failure found before any
    check (a SASL authorization identity other than the user's, say); neither: a locked IP."""

    protocol: str
    ip: str
    username: str | None
    reason: str
    started: float
    standing: Standing
    attempt: Attempt | None = None
    record: bool = False


class Authenticator:
    def __init__(
        self, store: Store, throttle: LoginThrottle, hashing: PasswordHashing, cache: LoginCache,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.throttle = throttle
        self.hashing = hashing
        self.cache = cache
        self.clock = clock
        self._sleep = sleep
        self._fake_salt_secret: bytes | None = None
        self._remembered: dict[tuple[str, str, str], float] = {}

    async def start(self) -> None:
        """Read (on the very first start: make) the server secret, and make the dummy hash."""
        await self.fake_scram("")
        await self.hashing.start()

    def close(self) -> None:
        self.hashing.close()

    async def login(
        self, protocol: str, ip: str, username: str, password: str, *, secure: bool, mechanism: str | None = None,
    ) -> Account:
        """Check a user name and password; raises LoginRefused (at the failure delay). ``mechanism``: the
        SASL mechanism that carried them, for the log (None: the protocol's own command)."""
        started = self.clock()
        self.require_secure(protocol, ip, secure)
        standing = await self.admit(protocol, ip, username, started)
        account, credentials = await self.credentials(username)
        if account is not None and not await self._main_password_allowed(account.address, protocol):
            credentials = None  # its owner kept the main password for the web: the same work, no match
        if account is not None and credentials is not None and self.cache.verified(credentials, password):
            return await self.succeed(protocol, ip, account, None, mechanism)
        attempt = await self.begin(Refusal(protocol, ip, username, TOO_MANY, started, standing))
        right = await self.hashing.run(
            partial(self.hashing.verify, credentials.password_hash if credentials else None, password))
        if right and credentials is not None:
            self.cache.remember(await self._upgrade(credentials, password), password)
        elif account is None or protocol == "web" or not await self._app_password(account.address, password):
            reason = "unknown user" if account is None else "bad password"
            raise await self.refuse(Refusal(protocol, ip, username, reason, started, standing, attempt))
        return await self.succeed(protocol, ip, account, attempt, mechanism)

    async def _main_password_allowed(self, address: str, protocol: str) -> bool:
        """The account's main password works everywhere, unless its owner limited it to the web."""
        if protocol == "web" or not hasattr(self.store, "account_settings"):
            return True
        return not (await self.store.account_settings(address)).get(WEB_ONLY_SETTING)

    async def _app_password(self, address: str, password: str) -> bool:
        """One of the account's app passwords (``admin/ops_account.py``): mail protocols only."""
        use = getattr(self.store, "use_app_password", None)
        return bool(use and len(password) < 64 and await use(address, secret_hash(password)))

    def start_sasl(self, protocol: str, ip: str, mechanism: str, *, secure: bool) -> SaslExchange | None:
        self.require_secure(protocol, ip, secure)
        mech = sasl.create(mechanism)
        return SaslExchange(self, protocol, ip, mech) if mech is not None else None

    def require_secure(self, protocol: str, ip: str, secure: bool) -> None:
        if not secure:  # the protocols refuse before this with their own reply; a last line
            log_event(log, "warning", "login refused: no TLS", protocol=protocol, ip=ip)
            raise NoTLS("no TLS")

    async def admit(self, protocol: str, ip: str, username: str | None, started: float) -> Standing:
        """The throttle's word before anything is looked up: refused if the IP is locked, made to wait
        if the account is under attack and this network is not one of its own."""
        standing = await self.throttle.standing(ip, username)
        if self.throttle.is_locked(standing):
            raise await self.refuse(Refusal(protocol, ip, username, TOO_MANY, started, standing))
        delay = await self.throttle.account_delay(ip, username, standing)
        if delay:
            log_event(log, "info", "login delayed: account under attack", protocol=protocol, ip=ip,
                      user=username, seconds=delay)
            await self._sleep(delay)
        return standing

    async def begin(self, locked: Refusal) -> Attempt:
        """Count the attempt as a failure before checking it; refused as ``locked`` at the IP's limit."""
        attempt = await self.throttle.begin(locked.ip, locked.username)
        if attempt is None:
            raise await self.refuse(locked)
        return attempt

    async def credentials(self, username: str) -> tuple[Account | None, Credentials | None]:
        try:
            account = await self.store.get_account(username)
        except AddressError:
            return None, None
        return account, await self.store.get_credentials(account.address) if account else None

    async def fake_scram(self, username: str) -> sasl.ScramCredentials:
        if self._fake_salt_secret is None:
            self._fake_salt_secret = await self.store.server_secret(FAKE_SALT_SECRET)
        return sasl.fake_scram_credentials(self._fake_salt_secret, username, self.hashing.parameters.scram_iterations)

    async def refuse(self, refusal: Refusal) -> LoginRefused:
        """Count (if asked) and log a failure, wait until the failure delay after the attempt began,
        and return the error to raise."""
        if refusal.attempt is not None:
            await self.throttle.failed(refusal.attempt)
        elif refusal.record:
            await self.throttle.record_failure(refusal.ip, refusal.username)
        locked = refusal.reason == TOO_MANY
        LOGINS.inc(protocol=refusal.protocol, result="locked" if locked else "failure")
        message = "login refused: too many failures" if locked else "login failed"
        log_event(log, "warning" if locked else "info", message, protocol=refusal.protocol, ip=refusal.ip,
                  user=refusal.username, reason=refusal.reason)
        due = refusal.started + self.throttle.failure_delay(refusal.standing)
        await self._sleep(max(0.0, due - self.clock()))
        return LoginRefused(refusal.reason)

    async def succeed(
        self, protocol: str, ip: str, account: Account, attempt: Attempt | None, mechanism: str | None,
    ) -> Account:
        await self.throttle.succeeded(attempt, ip, account.address)
        await self._remember(account.address, protocol, ip)
        LOGINS.inc(protocol=protocol, result="success")
        log_event(log, "info", "login", protocol=protocol, ip=ip, user=account.address, mechanism=mechanism)
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

    async def _upgrade(self, credentials: Credentials, password: str) -> Credentials:
        """Remake hashes made with older parameters, now that the password is known and right."""
        if not self.hashing.needs_upgrade(credentials.password_hash, credentials.scram_sha256):
            return credentials
        password_hash, scram = await self.hashing.run(partial(self.hashing.make_credentials, password))
        if not await self.store.replace_credentials(credentials.address, credentials.password_hash, password_hash,
                                                    scram):
            return credentials  # the password was changed meanwhile: that one stands
        log_event(log, "info", "password hashes upgraded", user=credentials.address)
        return replace(credentials, password_hash=password_hash, scram_sha256=scram)


class SaslExchange:
    """Drives one sasl.Mechanism: challenges out, responses in, credentials checked here."""

    def __init__(self, authenticator: Authenticator, protocol: str, ip: str, mechanism: sasl.Mechanism) -> None:
        self._auth = authenticator
        self._protocol = protocol
        self._ip = ip
        self._mechanism = mechanism
        self._username: str | None = None
        self._standing = Standing(0, 0)
        self._attempt: Attempt | None = None

    @property
    def name(self) -> str:
        return self._mechanism.name

    async def start(self, initial_response: bytes | None) -> SaslContinue | SaslSuccess:
        """``initial_response`` is already base64-decoded. Raises sasl.SASLError or LoginRefused."""
        self._standing = await self._auth.admit(self._protocol, self._ip, None, self._auth.clock())
        return await self._advance(lambda: self._mechanism.start(initial_response))

    async def step(self, response: bytes) -> SaslContinue | SaslSuccess:
        return await self._advance(lambda: self._mechanism.step(response))

    async def _advance(self, make_step: Callable[[], sasl.Step]) -> SaslContinue | SaslSuccess:
        started = self._auth.clock()
        try:
            step = make_step()
            if isinstance(step, sasl.NeedCredentials):
                self._username = step.username
                step = await self._supply(step.username, started)
        except sasl.AuthenticationFailed as exc:
            raise await self._auth.refuse(self._refusal(exc.reason, started)) from None
        if isinstance(step, sasl.Challenge):
            return SaslContinue(step.data)
        assert isinstance(step, sasl.Done)
        return await self._finish(step, started)

    def _refusal(self, reason: str, started: float) -> Refusal:
        """A refusal of this exchange: its check failed if it began one, else a failure of its own."""
        return Refusal(self._protocol, self._ip, self._username, reason, started, self._standing, self._attempt,
                       record=self._attempt is None)

    async def _supply(self, username: str, started: float) -> sasl.Step:
        """SCRAM: the same steps for a real and an unknown user, the attempt counted before the proof."""
        self._standing = await self._auth.admit(self._protocol, self._ip, username, started)
        account, credentials = await self._auth.credentials(username)
        if account is not None and not await self._auth._main_password_allowed(account.address, self._protocol):
            credentials = None  # SCRAM proves the main password, which its owner kept for the web
        self._attempt = await self._auth.begin(
            Refusal(self._protocol, self._ip, username, TOO_MANY, started, self._standing))
        stored = parse_scram(credentials.scram_sha256) if credentials else None
        assert isinstance(self._mechanism, sasl.ScramSha256)
        return self._mechanism.supply_credentials(stored or await self._auth.fake_scram(username))

    async def _finish(self, done: sasl.Done, started: float) -> SaslSuccess:
        if not done.verified:
            assert done.password is not None
            # PLAIN, LOGIN: start_sasl refused this exchange unless the connection was secure
            account = await self._auth.login(self._protocol, self._ip, done.authcid, done.password, secure=True,
                                             mechanism=self.name)
            return SaslSuccess(account, None)
        account, _credentials = await self._auth.credentials(done.authcid)
        if account is None:
            raise await self._auth.refuse(self._refusal("unknown user", started))
        success = await self._auth.succeed(self._protocol, self._ip, account, self._attempt, self.name)
        return SaslSuccess(success, done.additional_data)
