"""postmaster@ and abuse@ reach a named person (RFC 5321 4.5.1, RFC 2142), shown by ``alias list``;
the password policy on every path that sets a password; an existing install keeps its postmaster."""

from __future__ import annotations

import shutil

import pytest

from pillarbox.store.sqlite.schema import MIGRATIONS, _statements
from tests.cli.conftest import PASSWORD, Pillarbox, json_of
from tests.sqlite_files import sqlite_file
from tests.stores import url_for


def aliases(pb: Pillarbox) -> dict[str, list[str]]:
    return {a["address"]: a["targets"] for a in json_of(pb.ok("alias", "list", "--json"))}


def test_without_postmaster_the_first_user_gets_them_and_is_told(pb: Pillarbox) -> None:
    lines = pb.ok("domain", "add", "example.com").out.splitlines()
    assert lines[1] == ("postmaster@example.com and abuse@example.com will reach the first user added to example.com"
                        " (to choose someone: pillarbox domain postmaster example.com ADDRESS)")
    assert aliases(pb) == {}
    pb.ok("user", "add", "bob@example.com", "--password-stdin", input=f"{PASSWORD}\n")
    assert pb.ok("user", "add", "alice@example.com", "--password-stdin", input=f"{PASSWORD}\n").out == (
        "added user alice@example.com\n")  # the second user changes nothing
    assert aliases(pb) == {"abuse@example.com": ["bob@example.com"], "postmaster@example.com": ["bob@example.com"]}
    assert pb.ok("domain", "postmaster", "example.com", "Ops@Remote.example").out == (
        "postmaster@example.com and abuse@example.com now reach ops@remote.example\n")
    assert aliases(pb) == {"abuse@example.com": ["ops@remote.example"],
                           "postmaster@example.com": ["ops@remote.example"]}
    result = pb.ok("alias", "delete", "abuse@example.com")
    assert "warning: mail to abuse@example.com is now refused" in result.stderr
    assert "no domain nowhere.example" in pb.fails("domain", "postmaster", "nowhere.example", "x@example.com")


def test_postmaster_option_and_configured_default(pb: Pillarbox) -> None:
    out = pb.ok("domain", "add", "example.com", "--postmaster", "hostmaster@example.com").out
    assert out.splitlines()[1] == "postmaster@example.com and abuse@example.com reach hostmaster@example.com"
    assert "not a mail address" in pb.fails("domain", "add", "example.net", "--postmaster", "nobody")
    assert "example.net" not in pb.ok("domain", "list").out  # refused before anything was made
    pb.config.write_text('postmaster = "Root@Example.com"\n' + pb.config.read_text())
    pb.ok("domain", "add", "example.org")
    pb.ok("user", "add", "bob@example.org", "--password-stdin", input=f"{PASSWORD}\n")  # the config already chose
    assert aliases(pb) == {
        "abuse@example.com": ["hostmaster@example.com"], "postmaster@example.com": ["hostmaster@example.com"],
        "abuse@example.org": ["root@example.com"], "postmaster@example.org": ["root@example.com"],
    }


def test_a_user_named_postmaster_keeps_its_mailbox(pb: Pillarbox) -> None:
    pb.ok("domain", "add", "example.com")
    pb.ok("user", "add", "postmaster@example.com", "--password-stdin", input=f"{PASSWORD}\n")
    assert aliases(pb) == {"abuse@example.com": ["postmaster@example.com"]}
    out = pb.ok("domain", "postmaster", "example.com", "ops@example.net").out
    assert out == ("postmaster@example.com is a user: its own mailbox stays\n"
                   "abuse@example.com now reach ops@example.net\n")
    pb.ok("domain", "add", "example.org", "--postmaster", "postmaster@example.org")  # never an alias to itself
    assert aliases(pb)["abuse@example.org"] == ["postmaster@example.org"]
    assert "postmaster@example.org" not in aliases(pb)


def test_password_policy_on_add_and_passwd(pb: Pillarbox) -> None:
    pb.ok("domain", "add", "example.com")
    line = pb.fails("user", "add", "bob@example.com", "--password-stdin", input="seven77\n", code=2)
    assert line == ("pillarbox: error: password too short: at least 8 characters"
                    " (accounts.password_min_length)")
    for user, same in (("bob@example.com", "bob@example.com"), ("bob@example.com", "BOB@Example.COM"),
                       ("robert.smith@example.com", "Robert.Smith")):  # nor its local part
        line = pb.fails("user", "add", user, "--password-stdin", input=f"{same}\n", code=2)
        assert line == "pillarbox: error: the password must not be the address itself"
    assert json_of(pb.ok("user", "list", "--json")) == []
    pb.ok("user", "add", "bob@example.com", "--password-stdin", input="eight888\n")
    pb.fails("user", "passwd", "bob@example.com", "--password-stdin", input="short\n", code=2)
    line = pb.fails("user", "passwd", "bob@example.com", "--password-stdin", input="BOB@example.com\n", code=2)
    assert "must not be the address" in line
    pb.config.write_text(pb.config.read_text().replace("[listen]", "[accounts]\npassword_min_length = 12\n\n[listen]"))
    assert "at least 12 characters" in pb.fails(
        "user", "passwd", "bob@example.com", "--password-stdin", input="eleven11111\n", code=2)
    pb.ok("user", "passwd", "bob@example.com", "--password-stdin", input="twelve121212\n")


def test_an_existing_install_keeps_its_postmaster_and_queue(pb: Pillarbox) -> None:
    """A data_dir from before: postmaster@ reached the domain's first user by a hidden rule. Opening it
    writes that rule down as aliases (abuse@ joins postmaster@), and queued mail gets a queue id."""
    if url_for(pb.data_dir):
        pytest.skip("an upgrade of a SQLite data_dir")
    before = next(n for n, script in enumerate(MIGRATIONS) if "public_id" in script)
    shutil.rmtree(pb.data_dir)
    pb.data_dir.mkdir()
    with sqlite_file(pb.data_dir / "pillarbox.sqlite3", isolation_level=None) as conn:
        for script in MIGRATIONS[:before]:
            for statement in _statements(script):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {before}")
        conn.executescript("""
            INSERT INTO domains (id, name, created) VALUES (1, 'a.example', 1), (2, 'b.example', 1),
                (3, 'c.example', 1), (4, 'd.example', 1);
            INSERT INTO accounts (id, address, domain_id, password_hash, created) VALUES
                (1, 'zed@a.example', 1, 'x', 5), (2, 'amy@a.example', 1, 'x', 9), (3, 'bea@c.example', 3, 'x', 7);
            INSERT INTO alias_targets VALUES ('@c.example', 0, 'bea@c.example'),
                ('postmaster@d.example', 0, 'ops@remote.example'), ('abuse@d.example', 0, 'amy@a.example');
            INSERT INTO messages (id, blob, size, subject, from_, structure, refs, created)
                VALUES (1, 'none', 1, '', '', '{}', 1, 1);
            INSERT INTO message_bodies VALUES (1, CAST('Subject: old' || char(13, 10, 13, 10) || 'queued' AS BLOB));
            INSERT INTO queue (message_id, sender, created) VALUES (1, 'zed@a.example', 1);
        """)
    assert aliases(pb) == {
        "postmaster@a.example": ["zed@a.example"],  # the domain's first user, as the old rule had it
        "abuse@a.example": ["postmaster@a.example"],
        "postmaster@b.example": ["zed@a.example"],  # no user there: the server's first user
        "abuse@b.example": ["postmaster@b.example"],
        "@c.example": ["bea@c.example"],  # the catch-all took postmaster@ already: unchanged
        "postmaster@d.example": ["ops@remote.example"], "abuse@d.example": ["amy@a.example"],
    }
    [entry] = json_of(pb.ok("queue", "list", "--json"))
    assert len(entry["id"]) == 12
    assert "Subject: old" in pb.ok("queue", "show", entry["id"]).out
