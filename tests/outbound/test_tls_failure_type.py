"""Which RFC 8460 result type a failed verifying handshake is counted as (OpenSSL's messages)."""

import pytest

from pillarbox.outbound.connect import failure_type


@pytest.mark.parametrize(("error", "result"), [
    ("TLS handshake: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate "
     "is not valid for 'mx2.b.test'", "certificate-host-mismatch"),
    ("certificate verify failed: certificate has expired", "certificate-expired"),
    ("certificate verify failed: unable to get local issuer certificate", "certificate-not-trusted"),
    ("certificate verify failed: self-signed certificate", "certificate-not-trusted"),
    ("TLS handshake: [SSL: WRONG_VERSION_NUMBER] wrong version number", "validation-failure"),
])
def test_failure_type(error: str, result: str):
    assert failure_type(error) == result
