"""The systemd unit ``pillarbox quickstart --systemd`` writes: the server as a dedicated user, allowed
to bind ports below 1024 and little else.

``AmbientCapabilities=CAP_NET_BIND_SERVICE`` (and a bounding set of only that) lets an unprivileged
user listen on 25, 80, 443...; ``ProtectSystem=strict`` makes the whole file system read-only but for
``ReadWritePaths`` (the data_dir); ``NoNewPrivileges``, ``PrivateTmp``, ``PrivateDevices`` and the
``Protect*``/``Restrict*`` settings take away what a mail server never needs. ``ProtectHome`` is
read-only, not ``yes``, because a checkout installed in a home folder (the README's way) must stay
runnable. SIGHUP reloads the certificate (``ExecReload``).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

DEFAULT_UNIT = Path("/etc/systemd/system/pillarbox.service")
SERVICE_USER = "pillarbox"


def unit_text(config: Path, data_dir: Path, user: str = SERVICE_USER, python: str | None = None) -> str:
    command = " ".join(shlex.quote(part) for part in (python or sys.executable, "-m", "pillarbox",
                                                      "--config", str(config), "serve"))
    return f"""\
# Written by `pillarbox quickstart --systemd`. Enable and start: systemctl enable --now pillarbox
[Unit]
Description=Pillarbox mail server
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
User={user}
Group={user}
ExecStart={command}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
LimitNOFILE=65536
UMask=0077
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths={data_dir}
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
"""
