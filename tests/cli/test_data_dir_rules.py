"""Which store a command opens: never one it made up. Admin commands refuse a data_dir without a store
(and create nothing), a second ``serve`` on a data_dir in use refuses with one line, ``--version``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pillarbox import paths
from tests.cli.conftest import Pillarbox
from tests.server_process import ServerProcess, write_config


def _home(tmp_path: Path) -> dict[str, str]:
    """A non-root user's environment whose XDG folders are empty."""
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / "config"),
            "XDG_DATA_HOME": str(tmp_path / "home" / "data")}


def test_admin_command_from_another_directory_creates_no_store(pb: Pillarbox, tmp_path: Path) -> None:
    env = _home(tmp_path)
    default = paths.default_data_dir(env)  # root's is /var/lib/pillarbox, a user's under XDG_DATA_HOME
    if default_config_path_exists(env) or (default / "pillarbox.sqlite3").exists():
        pytest.skip(f"this machine has a real install at {default}")
    existed = default.exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pillarbox.toml").write_text('data_dir = "data"\n')  # the current directory is not read
    result = pb.run("domain", "add", "example.com", config=False, cwd=elsewhere, env=env)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert f"no Pillarbox store in {default} " in result.stderr
    assert default.exists() == existed and not (elsewhere / "data").exists()


def default_config_path_exists(env: dict[str, str]) -> bool:
    return paths.default_config_path(env).exists()


def test_admin_command_on_an_empty_data_dir_names_it(pb: Pillarbox, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(f'data_dir = "{tmp_path / "nothing-here"}"\n')
    result = pb.run("--config", str(other), "user", "list", config=False)
    assert result.code == 1 and str(tmp_path / "nothing-here") in result.stderr
    assert not (tmp_path / "nothing-here").exists()


def test_version(pb: Pillarbox) -> None:
    result = pb.ok("--version")
    assert result.out.startswith("pillarbox ") and result.out.split()[1][0].isdigit()


@pytest.mark.slow
def test_second_serve_on_the_same_data_dir_refuses(tmp_path: Path) -> None:
    config = write_config(tmp_path, services=("smtp",))
    server = ServerProcess(config)
    try:
        second = Pillarbox(config, tmp_path / "data").run("serve")
        assert second.code == 1, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "already runs on" in lines[0] and str(server.process.pid) in lines[0]
    finally:
        assert server.stop() == 0
    second = ServerProcess(config)  # the lock went with the first server
    assert second.stop() == 0
