"""MTA-STS (RFC 8461): a domain's HTTPS-published promise that its MX hosts have valid certificates.

The problem is the same as DANE's (STARTTLS can be stripped, opportunistic TLS verifies nothing) for
domains without DNSSEC. The domain publishes a TXT record ``_mta-sts.<domain>`` ("v=STSv1; id=...")
and a policy at ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` listing its mode
(enforce / testing / none), the MX host patterns, and max_age. The HTTPS fetch is what makes it
trustworthy: the certificate of mta-sts.<domain> must validate (our trust store, or ``[outbound]
ca_file`` for a private PKI), redirects are not followed (3.3), and the policy is cached for
max_age; a changed ``id`` in the TXT record means "fetch again" (3.3). If the TXT lookup fails or
the fetch fails, a cached unexpired policy still applies: an attacker who can block DNS or HTTPS must
not be able to switch the policy off (5.1).

In enforce mode, an MX host that matches none of the patterns is not used, and a host that does not
offer STARTTLS or whose certificate does not validate for its name is a failure (the message stays
queued). In testing mode failures are only reported (TLS-RPT). Vague: 4.1 says a "*." pattern
matches exactly one leftmost label; we follow that.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.store.records import CachedPolicy

MAX_POLICY = 64 * 1024
MAX_AGE_LIMIT = 31557600  # one year (3.2)
FETCH_TIMEOUT = 60.0


class PolicyError(ValueError):
    pass


class PolicyFetchError(PolicyError):
    """The policy host answered, but not with a policy (status other than 200: 3.3)."""


FailureReport = Callable[[str, str], Awaitable[None]]
"""(policy domain, RFC 8460 result type) -> count a policy failure for TLS-RPT."""


def fetch_failure_type(exc: BaseException) -> str:
    """RFC 8460 4.3.2.2: which policy failure a failed fetch is."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "sts-webpki-invalid"
    if isinstance(exc, PolicyError | UnicodeDecodeError) and not isinstance(exc, PolicyFetchError):
        return "sts-policy-invalid"
    return "sts-policy-fetch-error"


@dataclass(frozen=True)
class STSPolicy:
    mode: str
    mx: tuple[str, ...]
    max_age: int
    policy_id: str = ""

    def allows(self, host: str) -> bool:
        return any(mx_matches(host, pattern) for pattern in self.mx)


def mx_matches(host: str, pattern: str) -> bool:
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return host == pattern


def parse_txt(records: list[bytes]) -> str | None:
    """The ``id`` of the one valid "v=STSv1" record, or None (none, or several: 3.1)."""
    found = []
    for raw in records:
        text = raw.decode("ascii", errors="replace")
        fields = dict(part.strip().partition("=")[::2] for part in text.split(";") if part.strip())
        if fields.get("v") == "STSv1" and fields.get("id", "").isalnum():
            found.append(fields["id"])
    return found[0] if len(found) == 1 else None


def parse_policy(text: str, policy_id: str = "") -> STSPolicy:
    fields: dict[str, str] = {}
    mx: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "mx":
            mx.append(value)
        else:
            fields.setdefault(key, value)
    if fields.get("version") != "STSv1":
        raise PolicyError("not an STSv1 policy")
    mode = fields.get("mode", "")
    if mode not in ("enforce", "testing", "none"):
        raise PolicyError(f"bad mode {mode!r}")
    age = fields.get("max_age", "")
    if not age.isdigit():
        raise PolicyError("bad max_age")
    if mode != "none" and not mx:
        raise PolicyError("no mx patterns")
    return STSPolicy(mode, tuple(mx), min(int(age), MAX_AGE_LIMIT), policy_id)


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying client context: ``ca_file`` replaces the system trust store when given."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class MTASTS:
    def __init__(self, store: object, resolver: Resolver, ca_file: Path | None = None, port: int = 443,
                 clock: Callable[[], float] = time.time, on_failure: FailureReport | None = None) -> None:
        self.store = store
        self.on_failure = on_failure
        self.resolver = resolver
        self.ca_file = ca_file
        self.port = port
        self.clock = clock

    async def policy(self, domain: str) -> STSPolicy | None:
        now = int(self.clock())
        cached = await self.store.get_mtasts_policy(domain)  # type: ignore[attr-defined]
        valid = cached if cached is not None and cached.expires > now else None
        try:
            policy_id = parse_txt(await self.resolver.txt(f"_mta-sts.{domain}"))
        except DNSTemporaryError:
            policy_id = None
        if policy_id is None or (valid is not None and valid.policy_id == policy_id):
            return _from_cache(valid)
        try:
            text = await self.fetch(domain)
            policy = parse_policy(text, policy_id)
        except (OSError, PolicyError, ssl.SSLError, TimeoutError, UnicodeDecodeError, DNSTemporaryError) as exc:
            if self.on_failure is not None:
                await self.on_failure(domain, fetch_failure_type(exc))
            return _from_cache(valid)
        await self.store.put_mtasts_policy(  # type: ignore[attr-defined]
            CachedPolicy(domain, policy_id, text, now, now + policy.max_age))
        return policy

    async def fetch(self, domain: str) -> str:
        host = f"mta-sts.{domain}"
        addresses = await self.resolver.addresses(host)
        if not addresses:
            raise OSError(f"{host} has no address")
        return await asyncio.wait_for(self._get(addresses[0], host), FETCH_TIMEOUT)

    async def _get(self, address: str, host: str) -> str:
        reader, writer = await asyncio.open_connection(address, self.port, ssl=client_context(self.ca_file),
                                                       server_hostname=host)
        try:
            writer.write(f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                         .encode())
            raw = await reader.read(MAX_POLICY + 4096)
            while len(raw) <= MAX_POLICY + 4096:
                more = await reader.read(MAX_POLICY)
                if not more:
                    break
                raw += more
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split()
        if len(status) < 2 or status[1] != b"200":
            raise PolicyFetchError(f"HTTP status {status[1:2]!r} (redirects are not followed)")
        if b"transfer-encoding: chunked" in head.lower():
            body = _unchunk(body)
        return body.decode("utf-8")


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2:]
    return out


def _from_cache(cached: CachedPolicy | None) -> STSPolicy | None:
    if cached is None:
        return None
    try:
        return parse_policy(cached.policy, cached.policy_id)
    except PolicyError:
        return None
