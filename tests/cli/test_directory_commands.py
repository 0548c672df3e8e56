"""pillarbox domain / user / alias, the global options, and the one-line error contract."""

from __future__ import annotations

from pillarbox.auth.passwords import verify_password
from pillarbox.store.sqlite.store import SQLiteStore
from tests.cli.conftest import PASSWORD, Pillarbox, json_of


def test_domain_add_list_delete(pb: Pillarbox) -> None:
    assert pb.ok("domain", "add", "Example.COM").out.startswith("added domain example.com ")
    pb.ok("domain", "add", "example.org")
    listed = json_of(pb.ok("domain", "list", "--json"))
    assert [d["name"] for d in listed] == ["example.com", "example.org"]
    assert all(d["created"].endswith("+00:00") and d["users"] == 0 for d in listed)
    table = pb.ok("domain", "list").out
    assert table.splitlines()[0].split() == ["DOMAIN", "USERS", "CREATED"] and "example.org" in table
    pb.ok("domain", "delete", "example.org")
    assert [d["name"] for d in json_of(pb.ok("domain", "list", "--json"))] == ["example.com"]
    assert "exists already" in pb.fails("domain", "add", "example.com")
    assert "no domain example.org" in pb.fails("domain", "delete", "example.org")
    assert "invalid domain" in pb.fails("domain", "add", "bad..name")


def test_empty_listings(pb: Pillarbox) -> None:
    assert json_of(pb.ok("domain", "list", "--json")) == []
    assert pb.ok("user", "list").out == "no users\n"
    assert json_of(pb.ok("alias", "list", "--json")) == []


def test_user_add_and_refusals(pb: Pillarbox) -> None:
    pb.ok("domain", "add", "example.com")
    assert pb.ok("user", "add", "Bob@Example.com", "--password-stdin", input="s3cret pass\n").out == (
        "added user bob@example.com\npostmaster@example.com and abuse@example.com reach bob@example.com, the first"
        " user of example.com (to choose someone else: pillarbox domain postmaster example.com ADDRESS)\n")
    line = pb.fails("user", "add", "bob@example.com", "--password-stdin", input="other\n")
    assert line == "pillarbox: error: user bob@example.com exists already"
    line = pb.fails("user", "add", "carol@nowhere.example", "--password-stdin", input="x\n")
    assert "no domain nowhere.example" in line and "pillarbox domain add nowhere.example" in line
    assert "not a mail address" in pb.fails("user", "add", "not-an-address", "--password-stdin", input="x\n")
    assert "empty password" in pb.fails("user", "add", "carol@example.com", "--password-stdin", input="\n")
    assert "--password-stdin" in pb.fails("user", "add", "carol@example.com")  # stdin is not a TTY
    assert "domain example.com still has 1 user" in pb.fails("domain", "delete", "example.com")
    users = json_of(pb.ok("user", "list", "--json"))
    assert [(u["address"], u["quota_bytes"], u["used_bytes"], u["used_messages"]) for u in users] == [
        ("bob@example.com", None, 0, 0)]


def test_user_passwd_changes_the_stored_hash(bob: Pillarbox) -> None:
    bob.ok("user", "passwd", "bob@example.com", "--password-stdin", input="new password\r\n")

    async def credentials(store: SQLiteStore):
        return await store.get_credentials("bob@example.com")

    found = bob.with_store(credentials)
    assert verify_password(found.password_hash, "new password")
    assert not verify_password(found.password_hash, PASSWORD)
    assert found.scram_sha256
    assert "no user nobody@example.com" in bob.fails(
        "user", "passwd", "nobody@example.com", "--password-stdin", input="x\n")


def test_user_quota(bob: Pillarbox) -> None:
    async def set_message_quota(store: SQLiteStore) -> None:
        await store.set_quota("bob@example.com", None, 500)

    bob.with_store(set_message_quota)
    assert bob.ok("user", "quota", "bob@example.com", "2M").out == (
        "bob@example.com now has a storage quota of 2M and at most 500 messages\n")
    users = {u["address"]: u for u in json_of(bob.ok("user", "list", "--json"))}
    assert users["bob@example.com"]["quota_bytes"] == 2 * 1024 * 1024
    assert users["bob@example.com"]["quota_messages"] == 500  # left as it was
    assert "2M" in bob.ok("user", "list").out
    bob.ok("user", "quota", "bob@example.com", "none")
    users = {u["address"]: u for u in json_of(bob.ok("user", "list", "--json"))}
    assert users["bob@example.com"]["quota_bytes"] is None
    assert users["bob@example.com"]["quota_messages"] == 500
    assert "not a size: '2X'" in bob.fails("user", "quota", "bob@example.com", "2X", code=2)
    assert "no user" in bob.fails("user", "quota", "zed@example.com", "1G")


def test_user_delete(bob: Pillarbox) -> None:
    bob.ok("user", "delete", "alice@example.com")
    assert [u["address"] for u in json_of(bob.ok("user", "list", "--json"))] == ["bob@example.com"]
    assert "no user alice@example.com" in bob.fails("user", "delete", "alice@example.com")


def test_alias_add_list_delete(bob: Pillarbox) -> None:
    bob.ok("alias", "add", "team@example.com", "bob@example.com", "alice@example.com", "ext@remote.example")
    bob.ok("alias", "add", "@example.com", "bob@example.com")
    result = bob.ok("alias", "add", "typo@example.com", "nobody@example.com")
    assert "warning: nobody@example.com is not a user or an alias" in result.stderr
    aliases = {a["address"]: a["targets"] for a in json_of(bob.ok("alias", "list", "--json"))}
    assert aliases == {
        "@example.com": ["bob@example.com"],
        "abuse@example.com": ["bob@example.com"],
        "postmaster@example.com": ["bob@example.com"],
        "team@example.com": ["bob@example.com", "alice@example.com", "ext@remote.example"],
        "typo@example.com": ["nobody@example.com"],
    }
    assert "team@example.com" in bob.ok("alias", "list").out
    assert "exists already" in bob.fails("alias", "add", "team@example.com", "bob@example.com")
    assert "is a user" in bob.fails("alias", "add", "bob@example.com", "alice@example.com")
    assert "no domain" in bob.fails("alias", "add", "x@other.example", "bob@example.com")
    bob.ok("alias", "delete", "@example.com")
    bob.ok("alias", "delete", "team@example.com")
    assert [a["address"] for a in json_of(bob.ok("alias", "list", "--json"))] == [
        "abuse@example.com", "postmaster@example.com", "typo@example.com"]
    assert "no alias team@example.com" in bob.fails("alias", "delete", "team@example.com")


def test_usage_errors_are_one_line_exit_2(pb: Pillarbox) -> None:
    assert "required" in pb.fails(code=2)
    assert "invalid choice" in pb.fails("frobnicate", code=2)
    assert "required" in pb.fails("domain", code=2)
    assert "required" in pb.fails("alias", "add", "x@example.com", code=2)
    assert "invalid choice" in pb.fails("--log-level", "loud", "domain", "list", code=2)
    assert pb.ok("--log-level", "debug", "domain", "list").out == "no domains\n"


def test_help_lists_every_command(pb: Pillarbox) -> None:
    out = pb.ok("--help").out
    for command in ("serve", "domain", "user", "alias", "mailbox", "message", "import"):
        assert command in out


def test_config_errors_are_one_line(pb: Pillarbox) -> None:
    pb.config.write_text('data_dir = "data"\ndata_dri = "x"\n')
    line = pb.fails("domain", "list")
    assert "unknown key data_dri" in line and "pillarbox.toml" in line
    pb.config.write_text("this is not toml")
    assert "TOML syntax error" in pb.fails("domain", "list")
    missing = pb.config.parent / "missing.toml"
    result = pb.run("--config", str(missing), "domain", "list", config=False)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pillarbox: error: ") and "missing.toml" in result.stderr


def test_config_from_environment(pb: Pillarbox) -> None:
    pb.ok("domain", "add", "example.com")
    elsewhere = pb.config.parent / "elsewhere"
    elsewhere.mkdir()
    result = pb.run("domain", "list", config=False, cwd=elsewhere, env={"PILLARBOX_CONFIG": str(pb.config)})
    assert result.code == 0 and "example.com" in result.out


def test_user_admin_flag(bob: Pillarbox) -> None:
    def admins() -> dict[str, bool]:
        return {u["address"]: u["admin"] for u in json_of(bob.ok("user", "list", "--json"))}

    assert admins() == {"alice@example.com": False, "bob@example.com": False}
    assert "an admin" in bob.ok("user", "add", "root@example.com", "--admin", "--password-stdin",
                                input="correct horse\n").out
    bob.ok("user", "admin", "bob@example.com", "on")
    assert admins() == {"alice@example.com": False, "bob@example.com": True, "root@example.com": True}
    bob.ok("user", "admin", "root@example.com", "off")
    assert not admins()["root@example.com"]
    assert "no user nobody@example.com" in bob.fails("user", "admin", "nobody@example.com", "on")
    assert bob.run("user", "admin", "bob@example.com", "maybe").code == 2
