"""What our domains publish: the MTA-STS policy file (RFC 8461 3.2), and where reports come back to.

Every local domain's policy is served at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``
(``web/site.py``). The policy lists our hostname as the one MX; ``mode`` and ``max_age`` come from
``[policy]``. The DMARC and TLS-RPT records ask for reports at ``report_address`` (``[policy]
reports_to``), where ``policy/received`` reads them.
"""

from __future__ import annotations

import hashlib

MTA_STS_PATH = "/.well-known/mta-sts.txt"


def report_address(domain: str, local_part: str) -> str:
    """The ``rua=mailto:`` address of ``domain``'s DMARC (RFC 7489 6.3) and TLS-RPT (RFC 8460 3) records."""
    return f"{local_part}@{domain}"


def mta_sts_policy(mode: str, mx: str, max_age: int) -> str:
    """The policy file body (RFC 8461 3.2: key: value lines ending CRLF)."""
    lines = ["version: STSv1", f"mode: {mode}", f"mx: {mx}", f"max_age: {max_age}"]
    return "\r\n".join(lines) + "\r\n"


def mta_sts_id(policy: str) -> str:
    """The ``id=`` of the ``_mta-sts`` TXT record: a hash of the served policy, so it changes exactly when
    the policy does (RFC 8461 3.1: senders refetch the policy when the id changes). ``pillarbox dns``,
    ``check`` and the HTTP route (its ETag) all use this one value."""
    return hashlib.sha256(policy.encode()).hexdigest()[:20]
