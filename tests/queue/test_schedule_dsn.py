"""Retry schedule, DSN decisions and the RFC 3464 report format."""

from __future__ import annotations

import email
import email.policy

from hypothesis import given
from hypothesis import strategies as st

from pillarbox.queue.dsn import RecipientReport, Report, build_dsn
from pillarbox.queue.reports import due_actions, wants
from pillarbox.queue.schedule import RetryPolicy
from pillarbox.store.records import QueuedMessage, QueuedRecipient


@given(st.integers(1, 200))
def test_backoff_grows_and_is_capped(attempts: int):
    policy = RetryPolicy(retry_first=60, retry_max=3600, backoff=2.0)
    assert 60 <= policy.delay(attempts) <= 3600
    assert policy.delay(attempts + 1) >= policy.delay(attempts)
    assert 0 < policy.next_attempt(1000, attempts) - 1000 <= 3600 * 1.1 + 1


def test_expiry_and_delay_notice():
    policy = RetryPolicy(delay_notice=100, max_age=500)
    assert not policy.delay_due(0, 99) and policy.delay_due(0, 100)
    assert not policy.expired(0, 499) and policy.expired(0, 500)


def recipient(state: str, notify: tuple[str, ...] = (), reported: tuple[str, ...] = (), position: int = 0):
    return QueuedRecipient(position, f"r{position}@b.test", None, notify, state, 1, 0, reported=reported)


def entry(*recipients: QueuedRecipient) -> QueuedMessage:
    return QueuedMessage("q1", 1, "a@a.test", None, None, None, False, None, False, 0, recipients)


def test_notify_rules():
    assert wants(recipient("failed"), "FAILURE") and wants(recipient("pending"), "DELAY")
    assert not wants(recipient("failed", ("NEVER",)), "FAILURE")
    assert not wants(recipient("relayed"), "SUCCESS") and wants(recipient("relayed", ("SUCCESS",)), "SUCCESS")


def test_due_actions():
    policy = RetryPolicy(delay_notice=10)
    e = entry(recipient("failed", position=0), recipient("sent", ("SUCCESS",), position=1),
              recipient("pending", position=2), recipient("delivered", ("SUCCESS",), position=3),
              recipient("failed", reported=("failed",), position=4))
    assert due_actions(e, policy, now=5) == {0: "failed", 3: "delivered"}
    assert due_actions(e, policy, now=10) == {0: "failed", 2: "delayed", 3: "delivered"}


def test_dsn_format_rfc3464():
    report = Report("mx.a.test", "a@a.test", (
        RecipientReport("x@b.test", "failed", "5.1.1", "rfc822;X@b.test", "mx.b.test", "smtp; 550 5.1.1 unknown"),
        RecipientReport("y@b.test", "delayed", "4.4.1", None, None, "smtp; 451 later", will_retry_until=99),
    ), b"From: a@a.test\r\nSubject: s\r\n\r\nthe body\r\n", 0, "env-1", "FULL")
    raw = build_dsn(report, 10, boundary="BOUND", message_id="<m@x>")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert b"To: <a@a.test>\r\n" in raw and msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content_type() == "multipart/report"
    text, status, original = msg.iter_parts()
    assert (text.get_content_type(), status.get_content_type()) == ("text/plain", "message/delivery-status")
    assert original.get_content_type() == "message/rfc822"  # RET=FULL on a failure: the whole message
    body = raw.decode()
    for line in ("Reporting-MTA: dns; mx.a.test", "Original-Envelope-Id: env-1", "Original-Recipient: rfc822; X@b.test",
                 "Final-Recipient: rfc822; x@b.test", "Action: failed", "Status: 5.1.1", "Remote-MTA: dns; mx.b.test",
                 "Diagnostic-Code: smtp; 550 5.1.1 unknown", "Action: delayed", "Will-Retry-Until:"):
        assert line + ("" if line.endswith(":") else "\r\n") in body or line in body
    assert b"the body" in raw


def test_headers_only_by_default_and_utf8_uses_global_types():
    report = Report("mx.a.test", "a@a.test", (RecipientReport("jörg@b.test", "failed", "5.1.1"),),
                    b"Subject: s\r\n\r\nsecret body\r\n", 0)
    raw = build_dsn(report, 10)
    assert b"secret body" not in raw and b"message/global-delivery-status" in raw
    assert b"Final-Recipient: utf-8; j" in raw
