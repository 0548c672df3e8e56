"""Account policies from the CLI: message-count quotas, POP3 download policy, DKIM keys on domain add."""

from __future__ import annotations

import json


def _account(pb, address: str) -> dict:
    [found] = [a for a in json.loads(pb.ok("user", "list", "--json").out) if a["address"] == address]
    return found


def test_quota_with_message_limit_and_pop3_policy(pb):
    pb.ok("domain", "add", "example.com")
    pb.ok("user", "add", "bob@example.com", "--password-stdin", input="secret sauce\n")
    pb.ok("user", "quota", "bob@example.com", "2M", "--messages", "100")
    pb.ok("user", "quota", "bob@example.com", "3M")  # the message limit stays
    account = pb.with_store(lambda store: store.get_account("bob@example.com"))
    assert (account.quota_bytes, account.quota_messages) == (3 * 1024 * 1024, 100)
    pb.ok("user", "quota", "bob@example.com", "none", "--messages", "none")
    account = pb.with_store(lambda store: store.get_account("bob@example.com"))
    assert (account.quota_bytes, account.quota_messages) == (None, None)
    for policy, stored in (("delete", 0), ("30", 30), ("keep", None)):
        pb.ok("user", "pop3-policy", "bob@example.com", policy)
        assert pb.with_store(lambda store: store.get_account("bob@example.com")).pop3_delete_after_days == stored
    assert "not a POP3 policy" in pb.fails("user", "pop3-policy", "bob@example.com", "-3", code=2)
    assert "no user" in pb.fails("user", "pop3-policy", "nobody@example.com", "keep")
    assert _account(pb, "bob@example.com")["address"] == "bob@example.com"


def test_domain_add_creates_dkim_keys(pb):
    pb.ok("domain", "add", "example.org")
    keys = pb.with_store(lambda store: store.dkim_keys("example.org"))
    assert sorted(key.algorithm for key in keys) == ["ed25519-sha256", "rsa-sha256"]
    records = pb.ok("dns", "example.org").out
    for key in keys:
        assert f"{key.selector}._domainkey.example.org." in records
