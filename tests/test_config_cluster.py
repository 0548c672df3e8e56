"""Config for servers behind a load balancer and for several nodes: ``[listen] proxy_*`` and ``[nodes.NAME]``
(only ``listen`` may differ per node; everything else is refused in one line)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from pillarbox.config import Endpoint, ListenConfig, load_config
from pillarbox.errors import ConfigError
from tests.test_config import _isolated, refusal, write  # noqa: F401 (_isolated: an autouse fixture)

SHARED = """
hostname = "mx.example.com"
[listen]
smtp = ["0.0.0.0:25"]
imaps = ["0.0.0.0:993"]
proxy_protocol = ["smtp", "imaps"]
proxy_trusted = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.10"]
"""


def test_proxy_keys(tmp_path: Path) -> None:
    listen = load_config(write(tmp_path / "p.toml", SHARED + "proxy_timeout = 3\n"), environ={}).listen
    assert listen.proxy_protocol == ("smtp", "imaps")
    assert listen.proxy_trusted == tuple(map(ipaddress.ip_network, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.10/32"]))
    assert listen.proxy_timeout == 3.0
    assert listen.endpoints() == {"smtp": (Endpoint("0.0.0.0", 25),), "imaps": (Endpoint("0.0.0.0", 993),)}


def test_no_proxy_by_default() -> None:
    assert ListenConfig().proxy_protocol == () and ListenConfig().proxy_trusted == ()
    assert ListenConfig().proxy_timeout == 5.0


@pytest.mark.parametrize(("text", "expected"), [
    ('[listen]\nproxy_protocol = ["smpt"]\nproxy_trusted = ["10.0.0.0/8"]',
     'listen.proxy_protocol: "smpt" is not a listener (did you mean smtp?)'),
    ('[listen]\nproxy_protocol = "smtp"', "listen.proxy_protocol: expected an array of listener names"),
    ('[listen]\nsmtp = ["0.0.0.0:25"]\nproxy_protocol = ["smtp"]',
     "listen.proxy_trusted: missing; listen.proxy_protocol needs the load balancers' networks"),
    ('[listen]\nproxy_trusted = ["10.0.0.1/8"]', 'listen.proxy_trusted: expected a network such as "10.0.0.0/8",'
     ' got "10.0.0.1/8" (10.0.0.1/8 has host bits set)'),
    ('[listen]\nproxy_trusted = [10]', "listen.proxy_trusted: expected a network"),
    ('[listen]\nproxy_timeout = 0', "listen.proxy_timeout: expected a positive number, got 0"),
])
def test_proxy_refusals(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in refusal(tmp_path, text)


# --------------------------------------------------------------------------------------------------
# [nodes.NAME]


NODES = SHARED + """
[nodes.a]
[nodes.b.listen]
smtp = ["10.1.0.2:25"]
http = ["10.1.0.2:8080"]
"""


def test_a_node_overrides_listen_keys_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", NODES)
    shared, a, b = (load_config(path, environ={}, node=node) for node in (None, "a", "b"))
    assert shared.node == "" and a.node == "a" and b.node == "b"
    assert a.listen == shared.listen
    assert b.listen.smtp == (Endpoint("10.1.0.2", 25),) and b.listen.http == (Endpoint("10.1.0.2", 8080),)
    assert b.listen.imaps == shared.listen.imaps and b.listen.proxy_protocol == ("smtp", "imaps")
    assert b.hostname == shared.hostname == "mx.example.com"


def test_without_a_shared_listen_table_the_nodes_is_the_listen_table(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[nodes.a.listen]\nsmtp = ["10.1.0.1:25"]\n')
    assert load_config(path, environ={}, node="a").listen.endpoints() == {"smtp": (Endpoint("10.1.0.1", 25),)}


@pytest.mark.parametrize(("text", "expected"), [
    ('[nodes.a]\nhostname = "other"', "nodes.a.hostname: only listen may differ per node;"
     " every other setting is shared by all nodes"),
    ("[nodes.a.limits]\nmax_recipients = 5", "nodes.a.limits: only listen may differ per node"),
    ("nodes = 3", "nodes: expected a table of [nodes.NAME] tables, got 3"),
    ("[nodes]\na = 1", "nodes.a: expected a table, got 1"),
    ("[nodes.a]\nlisten = 1", "nodes.a.listen: expected a table, got 1"),
    ('[nodes.a.listen]\nsmtp = ["nowhere"]', "nodes.a.listen.smtp: expected an address"),
    ('[nodes.a.listen]\nsmpt = ["10.0.0.1:25"]', "unknown key nodes.a.listen.smpt (did you mean nodes.a.listen.smtp?)"),
    ('[listen]\nsmtp = ["0.0.0.0:25"]\n[nodes.a.listen]\nimap = ["0.0.0.0:25"]',
     "nodes.a.listen.imap: 0.0.0.0:25 is also used by nodes.a.listen.smtp"),
    ('[listen]\nsmtp = ["0.0.0.0:25"]\n[nodes.a.listen]\nproxy_protocol = ["smtp"]',
     "nodes.a.listen.proxy_trusted: missing"),
])
def test_node_refusals_whichever_node_runs(tmp_path: Path, text: str, expected: str) -> None:
    """Every node's table is checked by every node: a mistake in b's stops a's start too."""
    assert expected in refusal(tmp_path, text)


def test_an_unknown_node_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", NODES)
    with pytest.raises(ConfigError, match=r"nodes\.c: no such table for serve --node c \(the file has: nodes\.a,"
                                          r" nodes\.b\)"):
        load_config(path, environ={}, node="c")
    with pytest.raises(ConfigError, match=r"serve --node a: no configuration file with a \[nodes\.a\] table"):
        load_config(None, environ={}, node="a")


def test_a_node_that_drops_the_acme_listener_is_refused(tmp_path: Path) -> None:
    text = ('[acme]\ndirectory = "https://acme.test/dir"\n[listen]\nhttps = ["0.0.0.0:443"]\n'
            '[nodes.a.listen]\nhttps = []\n')
    path = write(tmp_path / "p.toml", text)
    assert load_config(path, environ={}).acme.directory
    with pytest.raises(ConfigError, match=r"acme\.directory: the CA validates names on port 443 or 80"):
        load_config(path, environ={}, node="a")
