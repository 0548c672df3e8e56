"""`pillarbox serve` as a user runs it: listeners from the config, /healthz, /metrics, signals."""

from __future__ import annotations

import signal
import socket
import ssl
import sys
import urllib.request
from pathlib import Path

import pytest

from pillarbox.app import loop_factory
from pillarbox.errors import ConfigError
from tests.server_process import ServerProcess, write_config


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_answers_health_and_metrics_and_stops_cleanly(tmp_path: Path):
    server = ServerProcess(write_config(tmp_path, services=("http",)))
    try:
        port = server.port("http")
        assert _get(port, "/healthz") == (200, "ok\n")
        status, metrics = _get(port, "/metrics")
        assert status == 200 and "# TYPE" in metrics
        assert _get(port, "/nope")[0] == 404
    finally:
        assert server.stop() == 0
    assert 'msg="stopped"' in server.log()
    assert "Traceback" not in server.log()


def test_self_signed_certificate_is_made_once_and_reused(tmp_path: Path):
    config = write_config(tmp_path, services=("http",))
    first = ServerProcess(config)
    assert first.stop() == 0
    cert = tmp_path / "data" / "tls" / "cert.pem"
    made = cert.read_bytes()
    second = ServerProcess(config)
    assert second.stop() == 0
    assert cert.read_bytes() == made
    context = ssl.create_default_context(cafile=str(cert))
    assert context.cert_store_stats()["x509_ca"] + context.cert_store_stats()["x509"] >= 1


def test_sighup_reloads_tls_and_a_broken_certificate_keeps_the_old(tmp_path: Path):
    server = ServerProcess(write_config(tmp_path, services=("http",)))
    try:
        server.signal(signal.SIGHUP)
        server.wait_for_log("TLS certificate reloaded")
        (tmp_path / "data" / "tls" / "cert.pem").write_text("garbage")
        server.signal(signal.SIGHUP)
        server.wait_for_log("TLS reload failed")
        assert _get(server.port("http"), "/healthz")[0] == 200
    finally:
        assert server.stop() == 0


def test_a_busy_port_is_one_clear_line(tmp_path: Path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    config = tmp_path / "pillarbox.toml"
    config.write_text(f'data_dir = "data"\nworkers = 1\n[listen]\nhttp = ["127.0.0.1:{port}"]\n')
    import subprocess
    import sys

    from tests.server_process import cli_env

    result = subprocess.run([sys.executable, "-m", "pillarbox", "--config", str(config), "serve"],
                            capture_output=True, env=cli_env(), timeout=60)
    blocker.close()
    assert result.returncode != 0
    err = result.stderr.decode()
    assert "listen.http" in err and "Traceback" not in err


def test_event_loop_choice(monkeypatch: pytest.MonkeyPatch):
    assert loop_factory("asyncio") is None
    uvloop = pytest.importorskip("uvloop")
    assert loop_factory("auto") is uvloop.new_event_loop
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    assert loop_factory("auto") is None
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loop_factory("uvloop")


def test_serve_runs_on_uvloop_by_default(tmp_path: Path):
    server = ServerProcess(write_config(tmp_path, services=("http",)))
    try:
        assert "event_loop=uvloop" in server.wait_for_log('msg="ready"')
    finally:
        assert server.stop() == 0
