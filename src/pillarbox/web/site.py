"""The whole web face as one Starlette application: health and metrics, the MTA-STS policy, client
autoconfiguration, the JSON API, the admin and account pages.

``internal`` (the ``http`` listener, 127.0.0.1:8080 by default) adds ``/metrics``; the public
``https`` listener never serves it. Routes that depend on the Host (``mta-sts.DOMAIN``,
``autoconfig.DOMAIN``) answer only for domains we serve.
"""

from __future__ import annotations

from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pillarbox.errors import InvalidInput
from pillarbox.obs import Gauge, get_logger
from pillarbox.policy.publish import MTA_STS_PATH, mta_sts_id, mta_sts_policy
from pillarbox.store.records import FINAL_STATES
from pillarbox.web import autoconfig
from pillarbox.web.api import api_routes
from pillarbox.web.pages_account import account_routes
from pillarbox.web.pages_admin import admin_routes
from pillarbox.web.services import WebServices

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
XML = "application/xml; charset=utf-8"
log = get_logger("web")


def _host(request: Request) -> str:
    return request.headers.get("host", "").rpartition(":")[0] or request.headers.get("host", "")


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


QUEUED = Gauge("pillarbox_queue_recipients", "Recipients in the outbound queue by state", ("state",))
OLDEST = Gauge("pillarbox_queue_oldest_seconds", "Age of the oldest entry in the outbound queue")


async def _queue_gauges(s: WebServices) -> None:
    """The queue as it is now (read at scrape time: the store is shared by every process and node)."""
    summary = await s.store.queue_summary()
    for state, count in {**dict.fromkeys(("pending", "held", *FINAL_STATES), 0), **summary.states}.items():
        QUEUED.set(count, state=state)
    OLDEST.set(max(s.clock() - summary.oldest, 0) if summary.oldest is not None else 0)


def public_routes(s: WebServices, internal: bool) -> list[Route]:
    config = s.config
    policy = mta_sts_policy(config.policy.mta_sts_mode, config.hostname, config.policy.mta_sts_max_age)

    async def healthz(_request: Request) -> Response:
        try:
            healthy = await s.healthcheck()
        except Exception:
            log.exception("healthcheck failed")
            healthy = False
        return PlainTextResponse("ok\n" if healthy else "unhealthy\n", 200 if healthy else 503)

    async def metrics(_request: Request) -> Response:
        await _queue_gauges(s)
        return Response(s.metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def mta_sts(request: Request) -> Response:
        label, _, domain = _host(request).lower().partition(".")
        if label != "mta-sts" or not domain or not await s.store.has_domain(domain):
            return PlainTextResponse("Not Found\n", 404)
        return PlainTextResponse(policy, headers={"ETag": f'"{mta_sts_id(policy)}"'})

    async def thunderbird(request: Request) -> Response:
        given = request.query_params.get("emailaddress", "")
        host = _host(request).lower()
        domain = _domain_of(given) if "@" in given else host.removeprefix("autoconfig.")
        if not domain or not await s.store.has_domain(domain):
            return PlainTextResponse("Not Found\n", 404)
        return Response(autoconfig.thunderbird(domain, config.hostname, s.ports), headers={"Content-Type": XML})

    async def autodiscover(request: Request) -> Response:
        try:
            address = autoconfig.autodiscover_address(await request.body())
        except InvalidInput as exc:
            return PlainTextResponse(f"{exc}\n", 400)
        if not await s.store.has_domain(_domain_of(address)):
            return PlainTextResponse("Not Found\n", 404)
        return Response(autoconfig.autodiscover(address, config.hostname, s.ports), headers={"Content-Type": XML})

    async def stylesheet(_request: Request) -> Response:
        css = resources.files("pillarbox.web").joinpath("templates/style.css").read_text()
        return Response(css, headers={"Content-Type": "text/css; charset=utf-8", "Cache-Control": "max-age=3600"})

    routes = [
        Route("/healthz", healthz),
        Route(MTA_STS_PATH, mta_sts),
        Route("/mail/config-v1.1.xml", thunderbird),
        Route("/.well-known/autoconfig/mail/config-v1.1.xml", thunderbird),
        Route("/autodiscover/autodiscover.xml", autodiscover, methods=["POST"]),
        Route("/Autodiscover/Autodiscover.xml", autodiscover, methods=["POST"]),
        Route("/static/style.css", stylesheet),
    ]
    return routes + ([Route("/metrics", metrics)] if internal else [])


def build_site(services: WebServices, internal: bool = True) -> Starlette:
    routes = public_routes(services, internal) + api_routes(services) + admin_routes(services)
    return Starlette(routes=routes + account_routes(services))
