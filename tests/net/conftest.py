"""Shared helpers for the net tests: one self-signed certificate per session."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from pillarbox.net.tls import TLSContextHolder, ensure_certificate

HOSTNAME = "mail.example.test"


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_certificate(tmp_path_factory.mktemp("data"), HOSTNAME)


@pytest.fixture
def holder(cert_files: tuple[Path, Path]) -> TLSContextHolder:
    return TLSContextHolder(*cert_files)


@pytest.fixture
def client_ctx(cert_files: tuple[Path, Path]) -> ssl.SSLContext:
    """A verifying client that trusts only our certificate file, as mbsync or fetchmail would."""
    return ssl.create_default_context(cafile=str(cert_files[0]))
