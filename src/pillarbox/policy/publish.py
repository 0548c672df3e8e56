"""What our domains publish: the MTA-STS policy file (RFC 8461 3.2) and the DNS records to check.

Every local domain's policy is served at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``; the
HTTP listener answers for any ``mta-sts.*`` host whose domain we serve (TLS in front of it, with a
certificate for that name, is the operator's proxy's job when the listener is plain HTTP). The
policy lists our hostname as the one MX; ``mode`` and ``max_age`` come from ``[policy]``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pillarbox.web.http import HttpApp, Request, Response, refuse

MTA_STS_PATH = "/.well-known/mta-sts.txt"


def mta_sts_policy(mode: str, mx: str, max_age: int) -> str:
    """The policy file body (RFC 8461 3.2: key: value lines ending CRLF)."""
    lines = ["version: STSv1", f"mode: {mode}", f"mx: {mx}", f"max_age: {max_age}"]
    return "\r\n".join(lines) + "\r\n"


def add_mta_sts_route(
    app: HttpApp, is_local_domain: Callable[[str], Awaitable[bool]], mode: str, mx: str, max_age: int
) -> None:
    body = mta_sts_policy(mode, mx, max_age)

    @app.route("GET", MTA_STS_PATH, host="mta-sts.*")
    async def mta_sts(request: Request) -> Response:
        domain = request.host.partition(".")[2]
        if not domain or not await is_local_domain(domain):
            raise refuse(404)
        return Response.text(200, body, "text/plain; charset=utf-8")
