"""The web face served in the test's own process, on a real loopback socket, with an injected clock (and
resolver): for what a subprocess cannot show without sleeping (session expiry, cached DNS status)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from tests.auth.helpers import FAST

from pillarbox.admin.registry import OPERATIONS, Context
from pillarbox.auth.authenticator import Authenticator
from pillarbox.auth.login_cache import LoginCache
from pillarbox.auth.passwords import CHEAP, PasswordHashing, make_credentials
from pillarbox.auth.throttle import LoginThrottle
from pillarbox.config import Config
from pillarbox.net.listener import Listener
from pillarbox.net.tls import TLSContextHolder, ensure_certificate
from pillarbox.obs import render_metrics
from pillarbox.store.sqlite.store import SQLiteStore
from pillarbox.web.server import HttpLimits, HttpServer
from pillarbox.web.services import WebServices
from pillarbox.web.site import build_site

START = 1_800_000_000.0
ADMIN, PASSWORD = "admin@example.com", "admin-secret-1"


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Site:
    services: WebServices
    store: SQLiteStore
    clock: Clock
    base: str

    certificate: Path

    def client(self) -> httpx.AsyncClient:
        trust = ssl.create_default_context(cafile=str(self.certificate))
        trust.check_hostname = False  # the certificate names localhost, the base is 127.0.0.1 (IPv4 only)
        return httpx.AsyncClient(base_url=self.base, timeout=30, verify=trust)

    async def login(self, address: str = ADMIN, password: str = PASSWORD) -> tuple[httpx.AsyncClient, str]:
        client = self.client()
        answer = await client.post("/api/v1/session", json={"address": address, "password": password})
        assert answer.status_code == 200, answer.text
        return client, answer.json()["csrf"]


@asynccontextmanager
async def serve_site(data_dir: Path, resolver: Any = None, **web: Any) -> AsyncIterator[Site]:
    """A store with example.com and an admin, and the whole site on 127.0.0.1 over TLS (a password is
    taken over https only), all on one fake clock."""
    clock = Clock()
    config = Config(hostname="mx.test", data_dir=data_dir)
    config = replace(config, web=replace(config.web, **web))
    store = SQLiteStore.open(data_dir, clock=clock)
    await store.add_domain("example.com")
    await store.add_account(ADMIN, *make_credentials(PASSWORD))
    await store.set_admin(ADMIN, True)
    authenticator = Authenticator(store, LoginThrottle(store, FAST, clock=clock), PasswordHashing(CHEAP),
                                  LoginCache(900, 100))
    services = WebServices(config, store, authenticator, OPERATIONS, Context(store, config, resolver, {}),
                           store.healthy, render_metrics, {}, clock=clock)
    certificate, key = ensure_certificate(data_dir, "localhost")
    listener = Listener([("127.0.0.1", 0)], HttpServer(build_site(services), HttpLimits()).handle,
                        tls=TLSContextHolder(certificate, key))
    await listener.start()
    host, port = listener.addresses[0]
    try:
        yield Site(services, store, clock, f"https://{host}:{port}", certificate)
    finally:
        await listener.stop()
        await store.close()
