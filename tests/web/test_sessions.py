"""Web sessions end: after ``[web] session_idle`` seconds without a request, after ``session_lifetime``
however busy, and at logout (the cookie replayed afterwards opens nothing). The clock is injected."""

from __future__ import annotations

from pathlib import Path

from tests.web.in_process import ADMIN, PASSWORD, Site, serve_site

from pillarbox.auth.secrets import secret_hash
from pillarbox.web.auth import SECURE_COOKIE as COOKIE

IDLE, LIFETIME = 3600, 8 * 3600


async def _account_status(site: Site, cookie: str) -> int:
    async with site.client() as client:
        client.cookies.set(COOKIE, cookie)
        return (await client.get("/api/v1/account")).status_code


async def _session_cookie(site: Site) -> str:
    client, _ = await site.login()
    await client.aclose()
    return client.cookies[COOKIE]


def test_idle_sessions_end(run, tmp_path: Path) -> None:
    async def body() -> None:
        async with serve_site(tmp_path / "data", session_idle=IDLE, session_lifetime=LIFETIME) as site:
            cookie = await _session_cookie(site)
            site.clock.advance(IDLE - 1)
            assert await _account_status(site, cookie) == 200  # a request: the idle time starts again
            site.clock.advance(IDLE - 1)
            assert await _account_status(site, cookie) == 200
            site.clock.advance(IDLE)
            assert await _account_status(site, cookie) == 401
            async with site.client() as browser:  # the pages send the browser to the login form
                browser.cookies.set(COOKIE, cookie)
                answer = await browser.get("/account")
                assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Faccount"

    run(body())


def test_busy_sessions_end_at_their_lifetime(run, tmp_path: Path) -> None:
    async def body() -> None:
        async with serve_site(tmp_path / "data", session_idle=IDLE, session_lifetime=LIFETIME) as site:
            async with site.client() as client:
                answer = await client.post("/api/v1/session", json={"address": ADMIN, "password": PASSWORD})
                assert f"Max-Age={LIFETIME}" in answer.headers["set-cookie"]
                cookie = client.cookies[COOKIE]
            for _ in range(LIFETIME // 1800 - 1):  # a request every half hour for 7.5 hours
                site.clock.advance(1800)
                assert await _account_status(site, cookie) == 200
            site.clock.advance(1799)
            assert await _account_status(site, cookie) == 200
            site.clock.advance(1)
            assert await _account_status(site, cookie) == 401

    run(body())


def test_logout_ends_the_session_everywhere(run, tmp_path: Path) -> None:
    async def body() -> None:
        async with serve_site(tmp_path / "data") as site:
            client, csrf = await site.login()
            cookie = client.cookies[COOKIE]
            assert (await client.delete("/api/v1/session")).status_code == 403  # no CSRF token: refused
            answer = await client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
            assert answer.status_code == 200 and COOKIE in answer.headers["set-cookie"]
            await client.aclose()
            assert await site.store.get_web_session(secret_hash(cookie)) is None
            assert await _account_status(site, cookie) == 401  # the old cookie, replayed

            form_client, csrf = await site.login()  # the page's logout form
            cookie = form_client.cookies[COOKIE]
            answer = await form_client.post("/logout", data={"csrf": csrf})
            assert answer.status_code == 303 and answer.headers["location"] == "/login"
            await form_client.aclose()
            assert await _account_status(site, cookie) == 401

    run(body())
