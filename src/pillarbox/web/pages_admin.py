"""The admin pages: dashboard (with each domain's DNS status, ``dns_status.py``), domains (records with
a live check), users, aliases, queue, reports received from other domains, delivery outcomes per
destination. Each form runs one admin operation (``forms.action``); the views only read."""

from __future__ import annotations

import shutil
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pillarbox.web import charts
from pillarbox.web.auth import Identity
from pillarbox.web.dns_status import DnsStatusCache, check_in_time
from pillarbox.web.forms import action, optional_int, page, render
from pillarbox.web.services import WebServices

DAY = 24 * 3600


def admin_routes(s: WebServices) -> list[Route]:
    async def check_dns(domain: str) -> dict[str, Any]:
        return await s.run("domain.check", domain=domain)  # type: ignore[no-any-return]

    dns = DnsStatusCache(check_dns, s.clock, s.config.web.dns_status_ttl)

    async def dashboard(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        now, domains = int(s.clock()), await s.run("domain.list")
        counts = await s.store.delivery_counts(now - DAY)
        queue = await s.store.queue_summary()
        queue_chart = charts.queue_line(await s.store.queue_samples(now - DAY), now, queue.states)
        server = await s.status() if s.status else {}
        return render(request, "dashboard.html", me, errors=errors, queue=queue, now=now,
                      disk=shutil.disk_usage(s.config.data_dir), server=server, queue_chart=queue_chart,
                      totals={r: sum(c.count for c in counts if c.result == r) for r in charts.RESULTS},
                      chart=charts.hourly(counts, now), bounce_chart=charts.hourly(counts, now, ("bounced",)),
                      domains=domains, dns=dns.statuses(d["name"] for d in domains))

    async def domains(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        return render(request, "domains.html", me, errors=errors, domains=await s.run("domain.list"))

    async def domain(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        name = request.path_params["domain"]
        records = await s.run("domain.records", domain=name)
        check = None
        if request.query_params.get("check"):
            check = await check_in_time(check_dns, records["domain"])
            dns.keep(records["domain"], check)
        return render(request, "domain.html", me, errors=errors, records=records, check=check,
                      dkim=await s.run("dkim.list", domain=name))

    async def users(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        return render(request, "users.html", me, errors=errors, users=await s.run("user.list"),
                      domains=await s.run("domain.list"))

    async def aliases(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        return render(request, "aliases.html", me, errors=errors, aliases=await s.run("alias.list"))

    async def queue(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        wanted = request.query_params.get("q", "").strip().lower()
        state = request.query_params.get("state", "")
        entries = [e for e in await s.run("queue.list") if _matches(e, wanted, state)]
        return render(request, "queue.html", me, errors=errors, entries=entries, q=wanted, state=state)

    async def queue_entry(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        entry = await s.run("queue.show", id=request.path_params["id"])
        return render(request, "queue_entry.html", me, errors=errors, entry=entry)

    async def reports(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        return render(request, "reports.html", me, errors=errors, dmarc=await s.run("report.list", kind="dmarc"),
                      tlsrpt=await s.run("report.list", kind="tlsrpt"))

    async def deliveries(request: Request, me: Identity, errors: dict[str, str]) -> Response:
        counts = await s.store.delivery_counts(int(s.clock()) - 7 * DAY)
        return render(request, "deliveries.html", me, errors=errors, rows=charts.by_domain(counts))

    def view(fn: Any) -> Any:
        return page(s, fn, admin=True)

    return [
        Route("/admin", view(dashboard)),
        Route("/admin/domains", view(domains)),
        Route("/admin/domains", action(s, "domain.create", lambda f, r, i: {"domain": f.get("domain", ""),
              "postmaster": f.get("postmaster") or None}, domains, "/admin/domains",
              lambda r: f"added {r['name']}"), methods=["POST"]),
        Route("/admin/domains/{domain}", view(domain)),
        Route("/admin/domains/{domain}/delete", action(s, "domain.delete", _path("domain"), domains,
              "/admin/domains", "domain deleted"), methods=["POST"]),
        Route("/admin/domains/{domain}/dkim", action(s, "dkim.rotate", _path("domain"), domain,
              lambda r: f"/admin/domains/{r.path_params['domain']}", "new DKIM keys: publish them"),
              methods=["POST"]),
        Route("/admin/users", view(users)),
        Route("/admin/users", action(s, "user.create", lambda f, r, i: {
              "address": f.get("address", ""), "password": f.get("password", ""), "admin": "admin" in f},
              users, "/admin/users", lambda r: f"added {r['address']}"), methods=["POST"]),
        Route("/admin/users/{address}/delete", action(s, "user.delete", _path("address"), users, "/admin/users",
              "user deleted"), methods=["POST"]),
        Route("/admin/users/{address}/password", action(s, "user.password", lambda f, r, i: {
              "address": r.path_params["address"], "password": f.get("password", "")}, users, "/admin/users",
              "password changed"), methods=["POST"]),
        Route("/admin/users/{address}/quota", action(s, "user.quota", lambda f, r, i: {
              "address": r.path_params["address"], "quota_bytes": optional_int(f, "quota_mib", 1024 * 1024)},
              users, "/admin/users", "quota set"), methods=["POST"]),
        Route("/admin/aliases", view(aliases)),
        Route("/admin/aliases", action(s, "alias.create", lambda f, r, i: {
              "address": f.get("address", ""), "targets": f.get("targets", "").replace(",", " ").split()},
              aliases, "/admin/aliases", lambda r: f"added {r['address']}"), methods=["POST"]),
        Route("/admin/aliases/{address}/delete", action(s, "alias.delete", _path("address"), aliases,
              "/admin/aliases", "alias deleted"), methods=["POST"]),
        Route("/admin/queue", view(queue)),
        Route("/admin/queue/{id}", view(queue_entry)),
        *(Route(f"/admin/queue/{{id}}/{verb}", action(s, f"queue.{verb}", _path("id"), queue, "/admin/queue",
                                                      f"{verb}: done"), methods=["POST"])
          for verb in ("retry", "hold", "release", "delete")),
        Route("/admin/reports", view(reports)),
        Route("/admin/deliveries", view(deliveries)),
    ]


def _path(name: str) -> Any:
    return lambda form, request, identity: {name: request.path_params[name]}


def _matches(entry: dict[str, Any], wanted: str, state: str) -> bool:
    if state and not any(r["state"] == state for r in entry["recipients"]) and not (state == "held" and entry["held"]):
        return False
    text = " ".join([entry["id"], entry["sender"] or ""] + [r["address"] for r in entry["recipients"]]).lower()
    return wanted in text
