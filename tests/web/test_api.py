"""The JSON API over the wire (httpx against a real server): every operation, who may call what, CSRF,
tokens, logout; the CLI and the API see the same data."""

from __future__ import annotations

import json

import httpx
import pytest
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, USER, USER_PASSWORD, WebServer

from pillarbox.web.auth import NEEDS_TLS


@pytest.fixture(scope="module")
def admin(web: WebServer) -> httpx.Client:
    client, csrf = web.login(ADMIN, ADMIN_PASSWORD)
    client.headers["X-CSRF-Token"] = csrf
    return client


def test_openapi_describes_every_route(web: WebServer, admin: httpx.Client) -> None:
    document = web.client().get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    operations = {spec["operationId"] for path in document["paths"].values() for spec in path.values()}
    for name in ("domain.create", "user.quota", "queue.retry", "dkim.rotate", "domain.records", "domain.check",
                 "sender.grant", "alias.delete", "user.pop3_policy", "token.create", "account.app_password.create",
                 "report.list"):
        assert name in operations


def test_directory_operations(web: WebServer, admin: httpx.Client) -> None:
    assert admin.post("/api/v1/domains", json={"domain": "api.test"}).status_code == 201
    assert "api.test" in [d["name"] for d in admin.get("/api/v1/domains").json()]
    created = admin.post("/api/v1/users", json={"address": "carol@api.test", "password": "carol-pass-1"})
    assert created.status_code == 201 and created.json()["roles"] == ["postmaster@api.test", "abuse@api.test"]
    assert "carol@api.test" in web.cli("user", "list")  # one store, one operation: the CLI sees it
    quota = admin.put("/api/v1/users/carol@api.test/quota", json={"quota_bytes": 1048576})
    assert quota.json()["quota_bytes"] == 1048576
    assert admin.put("/api/v1/users/carol@api.test/pop3-policy", json={"delete_after_days": 7}).status_code == 200
    assert admin.put("/api/v1/users/carol@api.test/password", json={"password": "carol-pass-2"}).status_code == 200
    assert admin.put("/api/v1/users/carol@api.test/admin", json={"admin": False}).json()["admin"] is False
    assert admin.get("/api/v1/users/carol@api.test/mailboxes").json()[0]["name"] == "INBOX"
    assert admin.post("/api/v1/aliases", json={"address": "sales@api.test", "targets": ["carol@api.test"]}
                      ).status_code == 201
    assert {"address": "sales@api.test", "targets": ["carol@api.test"]} in admin.get("/api/v1/aliases").json()
    assert admin.post("/api/v1/users/carol@api.test/senders", json={"sender": "@api.test"}).status_code == 200
    assert {"user": "carol@api.test", "address": "@api.test"} in admin.get("/api/v1/senders").json()
    assert admin.delete("/api/v1/users/carol@api.test/senders/@api.test").status_code == 200
    assert admin.put("/api/v1/domains/api.test/postmaster", json={"address": ADMIN}).json()["roles"]
    assert admin.delete("/api/v1/aliases/sales@api.test").status_code == 200
    assert admin.delete("/api/v1/users/carol@api.test").status_code == 200
    for role in ("postmaster", "abuse"):
        admin.delete(f"/api/v1/aliases/{role}@api.test")
    assert admin.delete("/api/v1/domains/api.test").status_code == 200


def test_dkim_dns_and_check(web: WebServer, admin: httpx.Client) -> None:
    keys = admin.get("/api/v1/domains/example.com/dkim").json()
    rotated = admin.post("/api/v1/domains/example.com/dkim/rotate").json()
    assert set(rotated["selectors"]).isdisjoint(k["selector"] for k in keys if k["active"])
    records = admin.get("/api/v1/domains/example.com/records").json()["records"]
    imaps = web.server.port("imaps")
    assert f"_imaps._tcp.example.com. 3600 IN SRV 0 1 {imaps} mx.test." in records
    check = admin.get("/api/v1/domains/example.com/check").json()
    assert check["domain"] == "example.com" and check["findings"]


def test_queue_operations(web: WebServer, admin: httpx.Client) -> None:
    assert admin.get("/api/v1/queue").json() == []
    assert admin.post("/api/v1/queue/retry").json() == {"recipients": 0}
    for method, path in (("GET", "/api/v1/queue/aaaaaaaaaaaa"), ("POST", "/api/v1/queue/aaaaaaaaaaaa/retry"),
                         ("POST", "/api/v1/queue/aaaaaaaaaaaa/hold"), ("POST", "/api/v1/queue/aaaaaaaaaaaa/release"),
                         ("DELETE", "/api/v1/queue/aaaaaaaaaaaa")):
        assert admin.request(method, path).status_code == 404
    refused = admin.get("/api/v1/queue/not-an-id")
    assert refused.status_code == 422 and refused.json()["field"] == "id"


def test_refusals_name_the_field(admin: httpx.Client) -> None:
    weak = admin.post("/api/v1/users", json={"address": "dan@example.com", "password": "short"})
    assert weak.status_code == 422 and weak.json()["field"] == "password"
    bad = admin.post("/api/v1/users", json={"address": "not an address", "password": "long-enough-1"})
    assert bad.status_code == 422 and bad.json()["field"] == "address"
    wrong_type = admin.put(f"/api/v1/users/{USER}/quota", json={"quota_bytes": "lots"})
    assert wrong_type.status_code == 422 and wrong_type.json()["field"] == "quota_bytes"
    assert admin.post("/api/v1/users", content=b"{not json").status_code == 422
    assert admin.post("/api/v1/domains", json={"domain": "example.com"}).status_code == 409


def test_a_user_reaches_only_their_own_account(web: WebServer) -> None:
    client, csrf = web.login(USER, USER_PASSWORD)
    client.headers["X-CSRF-Token"] = csrf
    assert client.get("/api/v1/users").status_code == 403
    assert client.post("/api/v1/domains", json={"domain": "mine.test"}).status_code == 403
    assert client.put(f"/api/v1/users/{ADMIN}/password", json={"password": "taken-over-1"}).status_code == 403
    assert client.get("/api/v1/account").json()["address"] == USER
    assert client.get("/admin/users").status_code == 403


def test_no_login_no_access(web: WebServer) -> None:
    anonymous = web.client()
    assert anonymous.get("/api/v1/users").status_code == 401
    assert web.tls_client().post("/api/v1/session", json={"address": ADMIN, "password": "wrong"}).status_code == 401


def test_csrf_is_required_for_changes(web: WebServer) -> None:
    client, csrf = web.login(ADMIN, ADMIN_PASSWORD)
    assert client.get("/api/v1/domains").status_code == 200  # reading needs none
    assert client.post("/api/v1/domains", json={"domain": "csrf.test"}).status_code == 403
    assert client.post("/api/v1/domains", json={"domain": "csrf.test"},
                       headers={"X-CSRF-Token": ("y" if csrf[0] == "x" else "x") + csrf[1:]}).status_code == 403
    form = client.post("/admin/domains", data={"domain": "csrf.test"})
    assert form.status_code == 403
    assert "csrf.test" not in web.cli("domain", "list")


def test_tokens_from_the_cli(web: WebServer) -> None:
    token = web.cli("token", "create", ADMIN, "--name", "backup script").splitlines()[0]
    scripted = web.client()
    scripted.headers["Authorization"] = f"Bearer {token}"
    assert scripted.post("/api/v1/domains", json={"domain": "token.test"}).status_code == 201  # no CSRF needed
    listed = json.loads(web.cli("token", "list", "--json"))
    mine = next(t for t in listed if t["name"] == "backup script")
    assert mine["last_used"] and token not in web.cli("token", "list")
    web.cli("token", "revoke", str(mine["id"]))
    assert scripted.get("/api/v1/domains").status_code == 401
    user_token = web.cli("token", "create", USER).splitlines()[0]
    assert web.client().get("/api/v1/users", headers={"Authorization": f"Bearer {user_token}"}).status_code == 403


def test_logout_ends_the_session(web: WebServer) -> None:
    client, csrf = web.login(USER, USER_PASSWORD)
    cookie = dict(client.cookies)
    assert client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 200
    replay = web.tls_client()
    replay.cookies.update(cookie)
    assert replay.get("/api/v1/account").status_code == 401


def test_session_cookie_flags(web: WebServer) -> None:
    answer = httpx.post(web.tls_base + "/api/v1/session", json={"address": USER, "password": USER_PASSWORD},
                        verify=False)
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith("__host-pb_session=")
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie


def test_a_password_over_plain_http_is_refused_unread(web: WebServer) -> None:
    """The ``http`` listener took passwords in clear (issue 13). Now the right password too is refused
    there, before it is looked at: no session, the form says why; API tokens still work over http."""
    plain, right = web.client(), {"address": USER, "password": USER_PASSWORD}
    answer = plain.post("/api/v1/session", json=right)
    assert (answer.status_code, answer.json()) == (403, {"error": NEEDS_TLS})
    assert "set-cookie" not in answer.headers
    form = plain.post("/login", data=right)
    assert form.status_code == 403 and NEEDS_TLS in form.text and "set-cookie" not in form.headers
    assert NEEDS_TLS in plain.get("/login").text and NEEDS_TLS not in web.tls_client().get("/login").text
    assert web.server.wait_for_log(r"login refused: no TLS.* protocol=web")
    token = web.cli("token", "create", USER).splitlines()[0]
    assert plain.get("/api/v1/account", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_app_password_over_pop3_and_main_password_web_only(web: WebServer) -> None:
    import poplib

    client, csrf = web.login(USER, USER_PASSWORD)
    client.headers["X-CSRF-Token"] = csrf
    made = client.post("/api/v1/account/app-passwords", json={"name": "phone"}).json()
    client.put("/api/v1/account/main-password-web-only", json={"web_only": True})
    pop = poplib.POP3("127.0.0.1", web.server.port("pop3"), timeout=30)
    pop.stls(context=_insecure())
    pop.user(USER)
    assert pop.pass_(made["password"]).startswith(b"+OK")
    pop.quit()
    pop = poplib.POP3("127.0.0.1", web.server.port("pop3"), timeout=30)
    pop.stls(context=_insecure())
    pop.user(USER)
    with pytest.raises(poplib.error_proto):
        pop.pass_(USER_PASSWORD)  # the main password is for the web only now
    pop.quit()
    client.put("/api/v1/account/main-password-web-only", json={"web_only": False})
    client.delete(f"/api/v1/account/app-passwords/{made['id']}")
    logins = client.get("/api/v1/account").json()["logins"]
    assert {"pop3", "web"} <= {login["protocol"] for login in logins}


def _insecure():  # type: ignore[no-untyped-def]
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_antispam_operations(web: WebServer, admin: httpx.Client) -> None:
    base = f"/api/v1/users/{USER}"
    allowed = admin.post(f"{base}/spam-senders/allow", json={"pattern": "News@Shop.Example"})
    assert allowed.status_code == 200, (allowed.status_code, allowed.text)
    assert allowed.json() == {"user": USER, "pattern": "news@shop.example", "action": "allow"}
    assert admin.post(f"{base}/spam-senders/block", json={"pattern": "@spammy.example"}).status_code == 200
    refused = admin.post(f"{base}/spam-senders/block", json={"pattern": "not a sender"})
    assert refused.status_code == 422 and "not an address or a domain" in refused.text
    entries = admin.get(f"{base}/spam-senders").json()
    assert {"user": USER, "pattern": "spammy.example", "action": "block", "source": "user"} in entries
    assert "spammy.example" in web.cli("antispam", "list", USER)  # one store, one operation
    assert admin.delete(f"{base}/spam-senders/spammy.example").status_code == 200
    assert admin.delete(f"{base}/spam-senders/spammy.example").status_code == 404
    limits = admin.put(f"{base}/sending/limits", json={"messages": 10, "recipients": None}).json()
    assert (limits["messages_per_hour"], limits["recipients_per_hour"]) == (10, None)
    assert admin.post(f"{base}/sending/hold").json()["held_reason"] == "held by an administrator"
    assert admin.post(f"{base}/sending/release").json()["held_reason"] is None

    client, csrf = web.login(USER, USER_PASSWORD)
    client.headers["X-CSRF-Token"] = csrf
    assert client.post("/api/v1/account/spam-senders/block", json={"pattern": "pest.example"}).status_code == 200
    own = client.get("/api/v1/account/spam-senders").json()
    assert {e["pattern"] for e in own} == {"news@shop.example", "pest.example"}
    assert client.delete("/api/v1/account/spam-senders/pest.example").status_code == 200
    assert client.post(f"{base}/spam-senders/allow", json={"pattern": "x.example"}).status_code == 403
