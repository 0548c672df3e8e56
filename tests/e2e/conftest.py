"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.e2e.outbound_env import SMTP_PORT, MXNet, bindable, free_port, loopback_net


@pytest.fixture(scope="module")
def mx_net() -> MXNet:
    """The one place that decides which port the e2e MX listeners use (and so the senders deliver to).

    Port 25, the real one, when this process may bind it on every MX address of the module (root, as
    in CI, or CAP_NET_BIND_SERVICE, and nobody else there); the servers run as the same user, so what
    the probe may bind they may too. Otherwise one free ephemeral port shared by all the addresses.
    """
    net = MXNet(loopback_net(), SMTP_PORT)
    if bindable(SMTP_PORT, *net.addresses()):
        return net
    return replace(net, port=free_port(*net.addresses()))
