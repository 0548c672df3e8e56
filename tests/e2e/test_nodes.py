"""One configuration file for every node: ``serve --node NAME`` listens where ``[nodes.NAME.listen]`` says,
its worker processes too, and its log lines say ``node=NAME``; anything but ``listen`` in a node's table,
or a node the file does not name, stops ``serve`` with one line."""

from __future__ import annotations

import re
from pathlib import Path

from tests.server_process import ServerProcess, pillarbox, write_config

NODES = '\n[nodes.a]\n[nodes.b.listen]\nsmtp = ["127.0.0.4:0"]\n'


def test_a_node_listens_where_its_table_says_with_its_workers(tmp_path: Path) -> None:
    config = write_config(tmp_path, services=("smtp", "http"), extra="[policy]\ncheck = false\n" + NODES, workers=2)
    server = ServerProcess(config, serve_args=("--node", "b"))
    try:
        assert server.addresses["smtp"][0] == "127.0.0.4" and server.addresses["http"][0] == "127.0.0.1"
        server.wait_for_log(r"node=b proc=1 msg=\"?worker ready")
        assert all(" node=b " in line for line in server.lines if line.startswith("ts="))
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


def test_serve_refuses_an_unknown_node_and_node_only_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, services=("http",), extra=NODES)
    result = pillarbox(config, "serve", "--node", "c", check=False)
    assert result.returncode != 0
    [line] = result.stderr.decode().splitlines()
    assert re.search(r"nodes\.c: no such table for serve --node c \(the file has: nodes\.a, nodes\.b\)", line)
    config.write_text(config.read_text() + '[nodes.d]\nhostname = "d.example.com"\n')
    result = pillarbox(config, "serve", "--node", "a", check=False)
    [line] = result.stderr.decode().splitlines()
    assert "nodes.d.hostname: only listen may differ per node" in line
