"""Inbound sender authentication on the MX: SPF, DKIM, ARC and DMARC verdicts turned into one action.

Two moments. At MAIL FROM we check SPF (RFC 7208 2.4 lets us check it as early as we know the
sender): a DNS temporary error there is answered 451 at once, as 7208 8.6 recommends, because
nothing later could make the verdict right. A ``fail`` is *not* acted on yet: whether it matters
depends on the From domain's DMARC policy, which we only know once we have the message (RFC 7489
10.1: "an SPF fail alone never rejects mail from a domain that publishes DMARC").

At the end of DATA we verify DKIM and ARC, evaluate DMARC for the From domain(s), and decide:

- DMARC ``temperror`` (the policy, or an aligned DKIM key, could not be fetched) → tempfail (451);
- DMARC fail with disposition ``reject`` → ``dmarc_reject`` (default: reject, 550 5.7.1);
- DMARC fail with disposition ``quarantine`` → ``dmarc_quarantine`` (default: deliver to Junk);
- no DMARC policy at all: an SPF ``fail`` → ``spf_fail_without_dmarc`` (default: junk), a
  ``softfail`` → ``spf_softfail_without_dmarc`` (default: accept);
- anything else → accept.

Every verdict is written into an Authentication-Results field with our hostname as authserv-id,
and each DMARC evaluation that found a record is handed to the aggregate-report recorder.
Submission (authenticated users) skips all of this: the session only calls us for the MX role.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pillarbox.dns.resolver import Resolver
from pillarbox.mailauth import authresults
from pillarbox.mailauth.arc import ARCResult, verify_chain
from pillarbox.mailauth.authresults import MethodResult
from pillarbox.mailauth.dkim_verify import DKIMResult, verify_message
from pillarbox.mailauth.dmarc import DMARCVerdict, Policy, check_message, strictest
from pillarbox.mailauth.spf import SPFResult, SPFVerdict, check_host
from pillarbox.mime.header_view import HeaderView
from pillarbox.obs import Counter, get_logger, log_event

log = get_logger("policy")
VERDICTS = Counter("pillarbox_policy_verdicts_total", "Inbound authentication verdicts", ("method", "result"))
ACTIONS = Counter("pillarbox_policy_actions_total", "Inbound policy actions", ("action",))


class Action(enum.Enum):
    ACCEPT = "accept"
    JUNK = "junk"
    REJECT = "reject"
    TEMPFAIL = "tempfail"


@dataclass(frozen=True)
class PolicySettings:
    spf_temperror: str = "tempfail"
    dmarc_temperror: str = "tempfail"
    dmarc_reject: str = "reject"
    dmarc_quarantine: str = "junk"
    spf_fail_without_dmarc: str = "junk"
    spf_softfail_without_dmarc: str = "accept"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""
    method: str = ""
    """What decided: "spf", "dmarc" or "" (nothing did)."""
    domain: str = ""


ACCEPT = Decision(Action.ACCEPT)


@dataclass(frozen=True)
class SenderCheck:
    """The MAIL FROM-time facts, carried to the end of DATA."""

    client_ip: str
    helo: str
    mail_from: str
    spf: SPFVerdict
    decision: Decision = ACCEPT


@dataclass(frozen=True)
class DMARCObservation:
    """One row of aggregate-report data (RFC 7489 7.2): what we saw from a source for a domain."""

    policy_domain: str
    header_from: str
    source_ip: str
    envelope_from: str
    spf_domain: str
    spf_result: str
    dkim: tuple[tuple[str, str], ...]
    dmarc_result: str
    spf_aligned: bool
    dkim_aligned: bool
    disposition: str
    policy: str


class DMARCRecorder(Protocol):
    async def record_dmarc(self, observation: DMARCObservation) -> None: ...


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    header: bytes
    """The Authentication-Results field to prepend."""
    dkim: tuple[DKIMResult, ...] = ()
    dmarc: tuple[DMARCVerdict, ...] = ()
    arc: ARCResult = field(default_factory=lambda: ARCResult("none"))


def _action(knob: str) -> Action:
    return Action(knob)


class InboundPolicy:
    def __init__(
        self,
        resolver: Resolver,
        hostname: str,
        settings: PolicySettings | None = None,
        recorder: DMARCRecorder | None = None,
        sample: Callable[[], float] = random.random,
    ) -> None:
        self.resolver = resolver
        self.hostname = hostname
        self.settings = settings or PolicySettings()
        self.recorder = recorder
        self.sample = sample

    async def check_sender(self, client_ip: str, helo: str, mail_from: str | None) -> SenderCheck:
        """SPF for MAIL FROM, or for HELO when the reverse-path is null (RFC 7208 2.3, 2.4)."""
        helo = helo.strip("[]") if helo.startswith("[") else helo
        if mail_from:
            domain = mail_from.rpartition("@")[2]
            verdict = await check_host(self.resolver, client_ip, domain, mail_from, helo=helo,
                                       receiver=self.hostname)
        else:
            verdict = await check_host(self.resolver, client_ip, helo, f"postmaster@{helo}", helo=helo,
                                       identity="helo", receiver=self.hostname)
        VERDICTS.inc(method="spf", result=verdict.result.value)
        decision = ACCEPT
        if verdict.result is SPFResult.TEMPERROR and self.settings.spf_temperror == "tempfail":
            decision = Decision(Action.TEMPFAIL, verdict.reason, "spf", verdict.domain)
        return SenderCheck(client_ip, helo, mail_from or "", verdict, decision)

    async def evaluate(self, message: bytes, sender: SenderCheck, view: HeaderView | None = None) -> Evaluation:
        """DKIM, ARC and DMARC at the end of DATA, and the action for this message; ``view``: the
        transaction's parsed header section."""
        dkim_results = await verify_message(self.resolver, message)
        arc = await verify_chain(self.resolver, message)
        dmarc = await check_message(self.resolver, message, sender.spf, dkim_results, self.sample, view)
        for result in dkim_results:
            VERDICTS.inc(method="dkim", result=result.result)
        for verdict in dmarc:
            VERDICTS.inc(method="dmarc", result=verdict.result)
        decision = self._decide(sender, dmarc)
        ACTIONS.inc(action=decision.action.value)
        await self._record(sender, dkim_results, dmarc, decision)
        header = authresults.header_field(self.hostname, self._results(sender, dkim_results, arc, dmarc))
        return Evaluation(decision, header, tuple(dkim_results), tuple(dmarc), arc)

    def _decide(self, sender: SenderCheck, verdicts: Sequence[DMARCVerdict]) -> Decision:
        decisive = strictest(verdicts)
        settings = self.settings
        if decisive is not None and decisive.result == "temperror":
            action = Action.TEMPFAIL if settings.dmarc_temperror == "tempfail" else Action.ACCEPT
            return Decision(action, decisive.reason, "dmarc", decisive.from_domain)
        if decisive is not None and decisive.result == "fail":
            knob = {Policy.REJECT: settings.dmarc_reject, Policy.QUARANTINE: settings.dmarc_quarantine}
            action = _action(knob.get(decisive.disposition, "accept"))
            return Decision(action, f"DMARC policy of {decisive.from_domain}", "dmarc", decisive.from_domain)
        if any(v.result in ("pass", "fail") for v in verdicts):
            return ACCEPT  # the From domain publishes DMARC: it decides, not SPF alone
        spf = sender.spf
        knobs = {SPFResult.FAIL: settings.spf_fail_without_dmarc,
                 SPFResult.SOFTFAIL: settings.spf_softfail_without_dmarc}
        if spf.result in knobs:
            reason = f"SPF {spf.result.value} for {spf.domain}"
            return Decision(_action(knobs[spf.result]), reason, "spf", spf.domain)
        return ACCEPT

    def _results(
        self, sender: SenderCheck, dkim: Sequence[DKIMResult], arc: ARCResult, dmarc: Sequence[DMARCVerdict]
    ) -> list[MethodResult]:
        spf = sender.spf
        identity = ("smtp.mailfrom", sender.mail_from) if spf.identity == "mailfrom" else ("smtp.helo", sender.helo)
        results = [MethodResult("spf", spf.result.value, comment=spf.reason, properties=(identity,))]
        for item in dkim:
            props = (("header.d", item.domain), ("header.s", item.selector), ("header.a", item.algorithm),
                     ("header.b", item.header_b))
            results.append(MethodResult("dkim", item.result, reason=item.reason, properties=props))
        if not dkim:
            results.append(MethodResult("dkim", "none"))
        for verdict in dmarc:
            comment = ""
            if verdict.policy is not None:
                comment = f"p={verdict.policy.value} dis={verdict.disposition.value}"
            results.append(MethodResult("dmarc", verdict.result, reason=verdict.reason, comment=comment,
                                        properties=(("header.from", verdict.from_domain),)))
        if not dmarc:
            results.append(MethodResult("dmarc", "none", reason="no usable From address"))
        if arc.result != "none":
            results.append(MethodResult("arc", arc.result, reason=arc.reason,
                                        properties=(("smtp.remote-ip", sender.client_ip),)))
        return results

    async def _record(
        self, sender: SenderCheck, dkim: Sequence[DKIMResult], dmarc: Sequence[DMARCVerdict], decision: Decision
    ) -> None:
        if self.recorder is None:
            return
        for verdict in dmarc:
            if not verdict.record_domain or verdict.result == "temperror":
                continue
            disposition = verdict.disposition.value if decision.action is not Action.ACCEPT else "none"
            observation = DMARCObservation(
                policy_domain=verdict.record_domain, header_from=verdict.from_domain,
                source_ip=sender.client_ip, envelope_from=sender.spf.domain, spf_domain=sender.spf.domain,
                spf_result=sender.spf.result.value, dkim=tuple((r.domain, r.result) for r in dkim),
                dmarc_result=verdict.result, spf_aligned=verdict.spf_aligned, dkim_aligned=verdict.dkim_aligned,
                disposition=disposition, policy=verdict.policy.value if verdict.policy else "none",
            )
            await _safely(self.recorder.record_dmarc(observation))


async def _safely(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception as exc:  # report data must never cost a delivery
        log_event(log, "error", "could not record DMARC report data", error=str(exc))
