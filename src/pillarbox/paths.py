"""Where Pillarbox keeps its configuration and data when the file does not say: never the current directory.

A mail server's store must be the same whatever directory an administrator happens to stand in: an admin
command run from ``/root`` and the server started by systemd from ``/`` must open one data_dir. So the
defaults are fixed places: the system's (``/etc/pillarbox/pillarbox.toml``, ``/var/lib/pillarbox``) for
root, the XDG base directories for anyone else (``$XDG_CONFIG_HOME/pillarbox/pillarbox.toml``, else
``~/.config/...``; ``$XDG_DATA_HOME/pillarbox``, else ``~/.local/share/pillarbox``). ``--config`` and
``$PILLARBOX_CONFIG`` still win over the default file, and ``data_dir`` in a file over the default folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

CONFIG_NAME = "pillarbox.toml"
SYSTEM_CONFIG = Path("/etc/pillarbox") / CONFIG_NAME
SYSTEM_DATA_DIR = Path("/var/lib/pillarbox")


def _is_root() -> bool:
    return os.geteuid() == 0


def _xdg(environ: Mapping[str, str], variable: str, fallback: str) -> Path:
    # The XDG spec: a relative value is invalid and must be ignored.
    value = environ.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value)
    home = environ.get("HOME") or os.path.expanduser("~")
    return Path(home) / fallback


def default_config_path(environ: Mapping[str, str] | None = None, root: bool | None = None) -> Path:
    """The file read when neither ``--config`` nor ``$PILLARBOX_CONFIG`` names one (if it exists)."""
    environ = os.environ if environ is None else environ
    if _is_root() if root is None else root:
        return SYSTEM_CONFIG
    return _xdg(environ, "XDG_CONFIG_HOME", ".config") / "pillarbox" / CONFIG_NAME


def default_data_dir(environ: Mapping[str, str] | None = None, root: bool | None = None) -> Path:
    """The data_dir when the configuration does not set one."""
    environ = os.environ if environ is None else environ
    if _is_root() if root is None else root:
        return SYSTEM_DATA_DIR
    return _xdg(environ, "XDG_DATA_HOME", ".local/share") / "pillarbox"
