"""Hypothesis: byte-at-a-time equivalence, fuzzing in every state, and a walk of the state table."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pillarbox.smtp import server_protocol as sp
from tests.smtp.helpers import drive, drive_bytewise, fold

COMMANDS = [
    b"EHLO c.example\r\n", b"HELO c\r\n", b"MAIL FROM:<a@b.example> SIZE=10\r\n", b"MAIL FROM:<>\r\n",
    b"RCPT TO:<c@d.example>\r\n", b"RCPT TO:<@r.example:c@d.example> NOTIFY=NEVER\r\n", b"DATA\r\n",
    b"BDAT 5\r\n", b"BDAT 3 LAST\r\n", b"RSET\r\n", b"NOOP\r\n", b"VRFY x\r\n", b"STARTTLS\r\n",
    b"AUTH PLAIN\r\n", b"AUTH LOGIN dGlt\r\n", b"*\r\n", b".\r\n", b"..\r\n", b"\r\n.\r\n", b"\n.\n",
    b"\r\n", b"\r", b"\n", b".", b"x\r\n", b"\x00\xff", b"QUIT\r\n",
]  # fmt: skip
pieces = st.one_of(st.sampled_from(COMMANDS), st.binary(max_size=40))
streams = st.lists(pieces, min_size=1, max_size=30).map(b"".join).filter(bool)


def small() -> sp.SMTPServerProtocol:
    return sp.SMTPServerProtocol(line_limit=48, auth_line_limit=64, max_message_size=64)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(streams)
def test_whole_equals_bytewise(stream: bytes) -> None:
    assert fold(drive(small(), stream)) == drive_bytewise(small(), stream)


@settings(max_examples=300)
@given(streams, st.integers(min_value=1, max_value=17))
def test_any_split_equals_whole(stream: bytes, step: int) -> None:
    core = small()
    events = []
    for i in range(0, len(stream), step):
        events += drive(core, stream[i : i + step])
    assert fold(events) == fold(drive(small(), stream))


SESSION_CALLS = ["start_data", "expect_auth_response", "start_tls", "resume", "reset_after_starttls", "close"]


@settings(max_examples=500)
@given(st.lists(st.one_of(pieces, st.sampled_from(SESSION_CALLS), st.just(b"")), max_size=40))
def test_fuzz_every_state_only_events_or_state_errors(actions: list[bytes | str]) -> None:
    """Random bytes and random session decisions: the core only ever yields events or sentinels;
    a session call in the wrong state is StateError and leaves the state unchanged."""
    core = small()
    for action in actions:
        if isinstance(action, str):
            before = core.state
            try:
                getattr(core, action)()
            except sp.StateError:
                assert core.state is before
            continue
        core.receive_data(action)
        for _ in range(1000):
            result = core.next_event()
            assert isinstance(result, (sp.Event, sp.Sentinel))
            assert core.state in sp.State
            if isinstance(result, sp.Sentinel):
                break
        else:
            raise AssertionError("next_event never asked for more data")


CALL_TRIGGERS = {
    "start_data": sp.Trigger.START_DATA,
    "expect_auth_response": sp.Trigger.EXPECT_AUTH_RESPONSE,
    "start_tls": sp.Trigger.START_TLS,
    "resume": sp.Trigger.RESUME,
    "reset_after_starttls": sp.Trigger.RESET_AFTER_TLS,
    "close": sp.Trigger.CLOSE,
}


def test_state_table_walk() -> None:
    """Every (state, session call) pair: the table's next state, or StateError and no change."""
    for state in sp.State:
        for name, trigger in CALL_TRIGGERS.items():
            core = small()
            core.state = state
            expected = sp.TRANSITIONS.get((state, trigger))
            try:
                getattr(core, name)()
            except sp.StateError:
                assert expected is None and core.state is state
            else:
                assert core.state is expected


def test_every_state_is_reachable_and_every_non_closed_state_can_close() -> None:
    reachable = {sp.State.COMMAND}
    frontier = [sp.State.COMMAND]
    while frontier:
        state = frontier.pop()
        for (source, _), target in sp.TRANSITIONS.items():
            if source is state and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(sp.State)
    assert all((s, sp.Trigger.EOF) in sp.TRANSITIONS for s in sp.State if s is not sp.State.CLOSED)


def test_every_state_has_a_handler() -> None:
    assert set(sp.SMTPServerProtocol._handlers) == set(sp.State)
