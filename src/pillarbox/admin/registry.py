"""Every admin operation as data: its name, HTTP method and path, parameters, and the one function.

The JSON API (``web/api.py``) serves this table and describes it in its OpenAPI document; the admin
pages call operations by name from it; the CLI calls the same functions directly. ``app.py`` hands
the table to ``web/`` (which sits below ``admin/`` and never imports it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pillarbox.admin import antispam as spam
from pillarbox.admin import ops_account as a
from pillarbox.admin import ops_directory as d
from pillarbox.admin import ops_outbound as o
from pillarbox.admin import ops_reports as r
from pillarbox.admin import senders
from pillarbox.config import Config
from pillarbox.store.api import Store


@dataclass(frozen=True)
class Context:
    """What an operation runs with: the store, the configuration, and (for ``check``) a resolver."""

    store: Store
    config: Config
    resolver: Any = None
    ports: dict[str, int] | None = None
    """The client ports really served (bound listeners), for the DNS records; None: the configured ones."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"
    """JSON schema type: string, integer, boolean, array (of strings)."""
    where: str = "body"
    """path, query or body."""
    required: bool = True
    nullable: bool = False
    description: str = ""


@dataclass(frozen=True)
class Operation:
    name: str
    method: str
    path: str
    summary: str
    run: Callable[..., Awaitable[Any]]
    """``run(context, **params)``."""
    params: tuple[Param, ...] = ()
    scope: str = "admin"
    """admin: for admins only; self: any logged-in user, on their own account (``address`` is theirs)."""

    @property
    def changes(self) -> bool:
        return self.method != "GET"


def _op(name: str, method: str, path: str, summary: str, run: Callable[..., Awaitable[Any]],
        *params: Param, scope: str = "admin") -> Operation:
    given = {p.name for p in params}
    path_params = tuple(Param(p[1:-1], where="path") for p in path.split("/") if p[1:-1] not in given and p[:1] == "{")
    return Operation(name, method, path, summary, run, path_params + params, scope)


_ID = Param("id", "integer", where="path")


def _with_store(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    return lambda ctx, **kw: fn(ctx.store, **kw)


def _min_length(ctx: Context) -> int:
    return ctx.config.accounts.password_min_length


async def _create_user(ctx: Context, address: str, password: str, admin: bool = False) -> Any:
    return await d.create_user(ctx.store, address, password, _min_length(ctx), admin)


async def _set_password(ctx: Context, address: str, password: str) -> Any:
    return await d.set_user_password(ctx.store, address, password, _min_length(ctx))


async def _create_domain(ctx: Context, domain: str, postmaster: str | None = None) -> Any:
    return await d.create_domain(ctx.store, domain, postmaster or ctx.config.postmaster or None)


async def _quota(ctx: Context, address: str, quota_bytes: int | None, **rest: Any) -> Any:
    return await d.set_user_quota(ctx.store, address, quota_bytes, rest.get("quota_messages", d.UNCHANGED))


async def _grant(ctx: Context, address: str, sender: str) -> Any:
    grant = await senders.grant_sender(ctx.store, address, sender)  # type: ignore[arg-type]
    return {"user": grant.user, "address": grant.address}


async def _revoke(ctx: Context, address: str, sender: str) -> Any:
    await senders.revoke_sender(ctx.store, address, sender)  # type: ignore[arg-type]
    return {"user": address, "address": sender, "revoked": True}


async def _grants(ctx: Context) -> Any:
    return [{"user": g.user, "address": g.address} for g in await ctx.store.list_sender_grants()]


async def _records(ctx: Context, domain: str) -> Any:
    return await o.domain_records(ctx.store, ctx.config, domain, ctx.ports)


async def _check(ctx: Context, domain: str) -> Any:
    return await o.check_dns(ctx.store, ctx.config, domain, ctx.resolver)


OPERATIONS: tuple[Operation, ...] = (
    _op("domain.list", "GET", "/domains", "the domains served, with their user counts", _with_store(d.list_domains)),
    _op("domain.create", "POST", "/domains", "serve a domain", _create_domain, Param("domain"),
        Param("postmaster", required=False, nullable=True, description="who reads postmaster@ and abuse@")),
    _op("domain.delete", "DELETE", "/domains/{domain}", "stop serving a domain (it must have no users)",
        _with_store(d.delete_domain)),
    _op("domain.postmaster", "PUT", "/domains/{domain}/postmaster", "choose who reads postmaster@ and abuse@",
        _with_store(d.set_domain_postmaster), Param("address")),
    _op("domain.records", "GET", "/domains/{domain}/records", "the DNS records to publish", _records),
    _op("domain.check", "GET", "/domains/{domain}/check", "what the domain really publishes in DNS", _check),
    _op("dkim.list", "GET", "/domains/{domain}/dkim", "the domain's DKIM keys", _with_store(o.list_dkim_keys)),
    _op("dkim.rotate", "POST", "/domains/{domain}/dkim/rotate", "new DKIM keys, the old retired",
        _with_store(o.rotate_dkim_keys)),
    _op("user.list", "GET", "/users", "accounts with quota and usage", _with_store(d.list_users)),
    _op("user.get", "GET", "/users/{address}", "one account", _with_store(d.get_user)),
    _op("user.create", "POST", "/users", "create an account", _create_user, Param("address"), Param("password"),
        Param("admin", "boolean", required=False)),
    _op("user.delete", "DELETE", "/users/{address}", "delete an account and all of its mail",
        _with_store(d.delete_user)),
    _op("user.password", "PUT", "/users/{address}/password", "set an account's password", _set_password,
        Param("password")),
    _op("user.quota", "PUT", "/users/{address}/quota", "set the storage (and message-count) quota", _quota,
        Param("quota_bytes", "integer", nullable=True),
        Param("quota_messages", "integer", required=False, nullable=True)),
    _op("user.pop3_policy", "PUT", "/users/{address}/pop3-policy",
        "what POP3 downloads do: null keeps mail, 0 deletes it, N keeps it N days",
        _with_store(d.set_user_pop3_policy), Param("delete_after_days", "integer", nullable=True)),
    _op("user.admin", "PUT", "/users/{address}/admin", "let an account administer the server, or stop it",
        _with_store(d.set_user_admin), Param("admin", "boolean")),
    _op("user.mailboxes", "GET", "/users/{address}/mailboxes", "an account's folders",
        _with_store(d.list_mailboxes)),
    _op("sender.list", "GET", "/senders", "every sender grant", _grants),
    _op("sender.grant", "POST", "/users/{address}/senders", "let an account send as another address", _grant,
        Param("sender")),
    _op("sender.revoke", "DELETE", "/users/{address}/senders/{sender}", "take a sender grant back", _revoke),
    _op("alias.list", "GET", "/aliases", "every alias", _with_store(d.list_aliases)),
    _op("alias.create", "POST", "/aliases", "create an alias (@domain is a catch-all)", _with_store(d.create_alias),
        Param("address"), Param("targets", "array")),
    _op("alias.delete", "DELETE", "/aliases/{address}", "delete an alias", _with_store(d.delete_alias)),
    _op("queue.list", "GET", "/queue", "queued messages with per-recipient state", _with_store(o.list_queue)),
    _op("queue.show", "GET", "/queue/{id}", "one entry, with its header fields",
        lambda ctx, id: o.show_queue_entry(ctx.store, id)),
    _op("queue.retry", "POST", "/queue/{id}/retry", "try an entry again now",
        lambda ctx, id: o.retry_queue(ctx.store, id)),
    _op("queue.retry_all", "POST", "/queue/retry", "try every pending recipient again now",
        lambda ctx: o.retry_queue(ctx.store, None)),
    _op("queue.hold", "POST", "/queue/{id}/hold", "keep an entry from being tried",
        lambda ctx, id: o.hold_queue_entry(ctx.store, id, True)),
    _op("queue.release", "POST", "/queue/{id}/release", "let a held entry be tried again",
        lambda ctx, id: o.hold_queue_entry(ctx.store, id, False)),
    _op("queue.delete", "DELETE", "/queue/{id}", "drop an entry without a bounce",
        lambda ctx, id: o.delete_queue_entry(ctx.store, id)),
    _op("report.list", "GET", "/reports/{kind}",
        "reports other domains sent to our rua address: dmarc (aggregate, RFC 7489) or tlsrpt (RFC 8460)",
        _with_store(r.list_received_reports), Param("kind", where="path", description="dmarc or tlsrpt"),
        Param("days", "integer", required=False, description="ending within this many days (30)")),
)

SELF_OPERATIONS: tuple[Operation, ...] = (
    _op("account.get", "GET", "/account", "your account: quota use, app passwords, forwarding, vacation, logins",
        lambda ctx, address: a.account_overview(ctx.store, address), scope="self"),
    _op("account.password", "PUT", "/account/password", "change your password",
        lambda ctx, address, current, password: a.change_own_password(ctx.store, address, current, password,
                                                                      _min_length(ctx)),
        Param("current"), Param("password"), scope="self"),
    _op("account.web_only", "PUT", "/account/main-password-web-only",
        "limit the main password to the web (IMAP, POP3 and SMTP then take app passwords only)",
        lambda ctx, address, web_only: a.limit_main_password(ctx.store, address, web_only),
        Param("web_only", "boolean"), scope="self"),
    _op("account.app_passwords", "GET", "/account/app-passwords", "your app passwords",
        lambda ctx, address: a.list_app_passwords(ctx.store, address), scope="self"),
    _op("account.app_password.create", "POST", "/account/app-passwords",
        "a new app password for one device (shown once)",
        lambda ctx, address, name: a.create_app_password(ctx.store, address, name), Param("name"), scope="self"),
    _op("account.app_password.revoke", "DELETE", "/account/app-passwords/{id}", "revoke an app password",
        lambda ctx, address, id: a.revoke_app_password(ctx.store, address, id), _ID, scope="self"),
    _op("account.forward", "PUT", "/account/forward", "forward new mail elsewhere (to: null stops it)",
        lambda ctx, address, to, keep=True: a.set_forward(ctx.store, address, to, keep),
        Param("to", nullable=True), Param("keep", "boolean", required=False), scope="self"),
    _op("account.vacation", "PUT", "/account/vacation", "an automatic answer while you are away",
        lambda ctx, address, enabled, subject="", text="", days=7: a.set_vacation(ctx.store, address, enabled, subject,
                                                                                   text, days),
        Param("enabled", "boolean"), Param("subject", required=False), Param("text", required=False),
        Param("days", "integer", required=False, description="one answer per sender in this many days (7)"),
        scope="self"),
)

_PATTERN = Param("pattern", description="an address, or a domain (its subdomains too)")
_LIMIT = {"required": False, "nullable": True, "description": "per hour; 0: no limit; null: the configured default"}

ANTISPAM_OPERATIONS: tuple[Operation, ...] = (
    _op("antispam.list", "GET", "/users/{address}/spam-senders", "an account's allow and block entries",
        _with_store(spam.sender_rules)),
    _op("antispam.allow", "POST", "/users/{address}/spam-senders/allow", "never send mail from a sender to Junk",
        _with_store(spam.allow_sender), _PATTERN),
    _op("antispam.block", "POST", "/users/{address}/spam-senders/block", "always send mail from a sender to Junk",
        _with_store(spam.block_sender), _PATTERN),
    _op("antispam.unlist", "DELETE", "/users/{address}/spam-senders/{pattern}", "neither allow nor block a sender",
        _with_store(spam.unlist_sender)),
    _op("antispam.sending", "GET", "/users/{address}/sending", "an account's sending limits and hold",
        _with_store(spam.sending_policy)),
    _op("antispam.limits", "PUT", "/users/{address}/sending/limits", "an account's own hourly sending limits",
        _with_store(spam.set_sending_limits), Param("messages", "integer", **_LIMIT),
        Param("recipients", "integer", **_LIMIT)),
    _op("antispam.hold", "POST", "/users/{address}/sending/hold", "refuse all mail the account submits",
        _with_store(spam.hold_account)),
    _op("antispam.release", "POST", "/users/{address}/sending/release", "let a held account send again",
        _with_store(spam.release_account)),
    _op("account.spam_senders", "GET", "/account/spam-senders", "your allow and block entries",
        lambda ctx, address: spam.sender_rules(ctx.store, address), scope="self"),
    _op("account.spam_allow", "POST", "/account/spam-senders/allow", "never send mail from a sender to your Junk",
        lambda ctx, address, pattern: spam.allow_sender(ctx.store, address, pattern), _PATTERN, scope="self"),
    _op("account.spam_block", "POST", "/account/spam-senders/block", "always send mail from a sender to your Junk",
        lambda ctx, address, pattern: spam.block_sender(ctx.store, address, pattern), _PATTERN, scope="self"),
    _op("account.spam_unlist", "DELETE", "/account/spam-senders/{pattern}", "neither allow nor block a sender",
        lambda ctx, address, pattern: spam.unlist_sender(ctx.store, address, pattern), scope="self"),
)

TOKEN_OPERATIONS: tuple[Operation, ...] = (
    _op("token.list", "GET", "/tokens", "every API token (never the token itself)",
        lambda ctx: a.list_tokens(ctx.store)),
    _op("token.create", "POST", "/tokens", "a token for scripts, acting as an account (shown once)",
        lambda ctx, address, name: a.create_token(ctx.store, address, name), Param("address"), Param("name")),
    _op("token.revoke", "DELETE", "/tokens/{id}", "revoke an API token",
        lambda ctx, id: a.revoke_token(ctx.store, id), _ID),
)

OPERATIONS = OPERATIONS + ANTISPAM_OPERATIONS + TOKEN_OPERATIONS + SELF_OPERATIONS
BY_NAME = {operation.name: operation for operation in OPERATIONS}
