"""A spam verdict, the value every later step reads: the folder, the X-Spam-* fields, the log line,
the metrics and Sieve's ``spamtest`` (RFC 5235, through ``percent`` and ``sieve_score``).

Our fields name this host as their source. Fields of the same names in arriving mail are removed
first, whoever wrote them (like forged Authentication-Results, ``mailauth/authresults.remove_ours``):
once we deliver, a reader (a user's Sieve ``header :contains "X-Spam-Flag" "YES"``, a mail client's
rule) could not tell a sender's own ``X-Spam-Flag: NO`` from ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from pillarbox.mime.headers import drop_fields

HAM, JUNK, REJECT, TEMPFAIL = "ham", "junk", "reject", "tempfail"
OUR_FIELDS = (b"x-spam-flag", b"x-spam-status", b"x-spam-score", b"x-spam-level", b"x-spam-checker")


@dataclass(frozen=True)
class SpamVerdict:
    action: str
    """``ham`` (INBOX), ``junk`` (Junk), ``reject`` (550 5.7.1) or ``tempfail`` (451 4.7.1)."""
    score: float
    threshold: float
    source: str
    """What decided: ``bayes`` (the built-in classifier), ``rspamd``, ``allowlist``, ``blocklist``."""
    reasons: tuple[str, ...] = ()

    @property
    def is_junk(self) -> bool:
        return self.action in (JUNK, REJECT)

    @property
    def percent(self) -> int:
        """RFC 5235 spamtestplus: 0 (surely not spam) to 100 (surely spam); the threshold maps to 50."""
        if self.source == "blocklist":
            return 100
        if self.source == "allowlist" or self.threshold <= 0:
            return 0
        ratio = self.score / self.threshold
        return max(0, min(100, round(ratio * 50)))

    @property
    def sieve_score(self) -> int:
        """RFC 5235 spamtest: 1 (not spam) to 10 (spam); 0 is "not tested", which a verdict never is."""
        return 1 + round(self.percent * 9 / 100)

    def header_fields(self, hostname: str) -> bytes:
        flag = "YES" if self.is_junk else "NO"
        status = (f"{'Yes' if self.is_junk else 'No'}, score={self.score:.2f} required={self.threshold:.2f}"
                  f" source={self.source} host={hostname}")
        if self.reasons:
            status += "\r\n\ttests=" + ",".join(self.reasons)
        return f"X-Spam-Flag: {flag}\r\nX-Spam-Status: {status}\r\nX-Spam-Score: {self.score:.2f}\r\n".encode()

    def log_fields(self) -> dict[str, str]:
        return {"spam": self.action, "spam_score": f"{self.score:.2f}", "spam_source": self.source,
                "spam_reasons": ",".join(self.reasons) or None}  # type: ignore[dict-item]


def remove_spam_fields(message: bytes) -> tuple[bytes, int]:
    """The message without any X-Spam-* field we set; and how many went."""
    return drop_fields(message, lambda item: item.partition(b":")[0].strip().lower() in OUR_FIELDS)
