"""``pillarbox quickstart`` in a temporary root: the files it writes, the store it fills, the records it
prints (published on the tests' DNS server, ``pillarbox check`` finds nothing missing), idempotence,
and the systemd unit (``systemd-analyze verify`` when it is there)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pillarbox.auth.passwords import verify_password
from pillarbox.config import LETS_ENCRYPT, load_config
from pillarbox.store.sqlite.store import SQLiteStore
from tests.cli.conftest import Pillarbox
from tests.dnsserver import DNSServer

ADDRESS = "you@example.com"
HOST = "mail.example.com"


@pytest.fixture
def root(tmp_path: Path) -> Pillarbox:
    return Pillarbox(tmp_path / "etc" / "pillarbox" / "pillarbox.toml", tmp_path / "var" / "lib" / "pillarbox")


def quickstart(pb: Pillarbox, *extra: str) -> str:
    result = pb.run("quickstart", ADDRESS, "--data-dir", str(pb.data_dir), *extra, cwd=pb.config.parents[2])
    assert result.code == 0 and "Traceback" not in result.stderr, result.stderr
    return result.out


def zone_lines(output: str) -> list[tuple[str, str, str]]:
    """(name, type, rdata) of every printed zone-file line."""
    found = re.findall(r"^(\S+)\. \d+ IN (\S+) (.+)$", output, re.MULTILINE)
    return [(name, kind, data) for name, kind, data in found]


def test_quickstart_writes_config_store_and_admin(root: Pillarbox) -> None:
    out = quickstart(root)
    config = load_config(root.config, environ={})
    assert (config.hostname, config.data_dir, config.postmaster) == (HOST, root.data_dir, ADDRESS)
    assert (config.acme.directory, config.acme.email) == (LETS_ENCRYPT, ADDRESS)
    assert [e.port for e in config.listen.web] == [80] and [e.port for e in config.listen.https] == [443]
    assert root.config.read_text().startswith("# Pillarbox configuration")
    [password] = re.findall(rf"password for {ADDRESS}: (\S+)", out)

    async def stored(store: SQLiteStore) -> tuple[bool, str, int]:
        account = await store.get_account(ADDRESS)
        credentials = await store.get_credentials(ADDRESS)
        return account.admin, credentials.password_hash, len(await store.dkim_keys("example.com"))

    admin, password_hash, keys = root.with_store(stored)
    assert admin and verify_password(password_hash, password) and keys == 2
    assert "postmaster@example.com" in root.ok("alias", "list").out
    written = root.config.read_bytes()
    again = quickstart(root)
    assert "kept the existing configuration" in again and "password for" not in again
    assert root.config.read_bytes() == written and root.with_store(stored)[1] == password_hash
    assert zone_lines(again) == zone_lines(out)  # the same records, the same DKIM keys


def test_printed_records_pass_check(root: Pillarbox) -> None:
    out = quickstart(root)
    records: dict[tuple[str, str], list[str]] = {}
    for name, kind, data in zone_lines(out):
        if "<" not in data:  # the host's own address is the reader's to fill in
            records.setdefault((name, kind), []).append(data)
    records[(HOST, "A")] = ["127.0.0.1"]
    records[("1.0.0.127.in-addr.arpa", "PTR")] = [f"{HOST}."]
    dns = DNSServer(records)
    try:
        with root.config.open("a") as config:
            config.write(f'\n[dns]\nnameservers = ["{dns.nameserver}"]\n[policy]\npublic_ip = "127.0.0.1"\n')
        checked = root.run("check", "example.com")
        assert checked.code == 0, checked.out
        assert "example.com publishes everything we need" in checked.out
    finally:
        dns.close()


def test_systemd_unit(root: Pillarbox, tmp_path: Path) -> None:
    unit = tmp_path / "pillarbox.service"
    out = quickstart(root, "--systemd", str(unit), "--service-user", "nobody")
    assert f"wrote systemd unit {unit}" in out
    text = unit.read_text()
    for line in ("User=nobody", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "ProtectSystem=strict",
                 f"ReadWritePaths={root.data_dir}", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in text.splitlines()
    assert f"--config {root.config} serve" in text
    unit.write_text(text + "# edited by hand\n")
    assert "kept the existing systemd unit" in quickstart(root, "--systemd", str(unit), "--service-user", "nobody")
    assert unit.read_text().endswith("# edited by hand\n")
    assert "wrote systemd unit" in quickstart(root, "--systemd", str(unit), "--service-user", "nobody", "--force")
    analyze = shutil.which("systemd-analyze")
    if analyze:
        verified = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0, verified.stderr


def test_quickstart_refuses_a_bad_address_in_one_line(root: Pillarbox) -> None:
    result = root.run("quickstart", "not-an-address", "--data-dir", str(root.data_dir), cwd=root.config.parents[2])
    assert result.code == 1 and result.stderr.startswith("pillarbox: error: ") and len(result.stderr.splitlines()) == 1
    assert "not-an-address" in result.stderr and not root.config.exists()
