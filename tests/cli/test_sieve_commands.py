"""``pillarbox sieve``, ``forward`` and ``vacation`` from the command line, and mail through them."""

from __future__ import annotations

SCRIPT = 'require "fileinto";\nif header :contains "subject" "report" { fileinto "Archive"; }\n'


def test_sieve_put_list_get_activate_delete(bob, tmp_path):
    bob.ok("sieve", "put", "bob@example.com", "main", input=SCRIPT)
    bob.ok("sieve", "put", "bob@example.com", "spare", input="keep;\n")
    assert bob.ok("sieve", "get", "bob@example.com", "main").out == SCRIPT
    bob.ok("sieve", "activate", "bob@example.com", "main")
    listing = bob.ok("sieve", "list", "bob@example.com").out
    assert "main" in listing and "yes" in listing and "spare" in listing
    assert "is active" in bob.fails("sieve", "delete", "bob@example.com", "main")
    bob.ok("sieve", "deactivate", "bob@example.com")
    bob.ok("sieve", "delete", "bob@example.com", "main")
    assert "no script" in bob.fails("sieve", "get", "bob@example.com", "main")
    assert "unknown command" in bob.fails("sieve", "put", "bob@example.com", "bad", input="frob;")
    assert "reserved" in bob.fails("sieve", "put", "bob@example.com", "pillarbox-forward", input="keep;")
    assert "no user" in bob.fails("sieve", "list", "nobody@example.com")
    good, bad = tmp_path / "good.sieve", tmp_path / "bad.sieve"
    good.write_text(SCRIPT)
    bad.write_text("if true {")
    assert "OK" in bob.ok("sieve", "check", str(good)).out
    assert "expected" in bob.fails("sieve", "check", str(bad))


def test_global_scripts_and_generated_settings(bob):
    bob.ok("sieve", "put", "@global", "before", input='require "fileinto";\n'
           'if header :contains "subject" "spam" { fileinto "Junk"; stop; }\n')
    bob.ok("sieve", "put", "bob@example.com", "main", input=SCRIPT)
    bob.ok("sieve", "activate", "bob@example.com", "main")
    bob.ok("forward", "set", "alice@example.com", "bob@example.com", "--keep")
    bob.ok("vacation", "set", "alice@example.com", "I am away.", "--days", "3")
    assert bob.ok("sieve", "list", "alice@example.com").out.strip() == "no scripts"  # generated ones are hidden
    alice = bob.with_store(lambda store: store.get_account("alice@example.com"))
    generated = {s.name: s.content for s in bob.with_store(lambda store: store.list_sieve_scripts(alice.id))}
    assert generated == {"pillarbox-forward": 'require "copy";\nredirect :copy "bob@example.com";\n',
                         "pillarbox-vacation": 'require "vacation";\nvacation :days 3 :subject "Away" "I am away.";\n'}
    settings = bob.with_store(lambda store: store.account_settings("alice@example.com"))
    assert settings["forward"] == {"to": "bob@example.com", "keep": True}  # what the account page shows
    bob.ok("forward", "clear", "alice@example.com")
    bob.ok("vacation", "clear", "alice@example.com")
    scripts = bob.with_store(lambda store: store.list_sieve_scripts(None))
    assert [s.name for s in scripts] == ["before"]
    assert bob.with_store(lambda store: store.list_sieve_scripts(alice.id)) == []
