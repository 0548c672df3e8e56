"""A scripted session that drives SMTPServerProtocol the way the real session will."""

from __future__ import annotations

from pillarbox.smtp import server_protocol as sp


def drive(core: sp.SMTPServerProtocol, data: bytes, *, accept_data: bool = True) -> list[sp.Event]:
    """Feed ``data`` and collect events; accept DATA, answer AUTH with one challenge, refuse STARTTLS."""
    core.receive_data(data)
    return collect(core, accept_data=accept_data)


def collect(core: sp.SMTPServerProtocol, *, accept_data: bool = True) -> list[sp.Event]:
    events: list[sp.Event] = []
    while True:
        event = core.next_event()
        if isinstance(event, sp.Sentinel):
            return events
        events.append(event)
        decide(core, event, accept_data)


def decide(core: sp.SMTPServerProtocol, event: sp.Event, accept_data: bool) -> None:
    if isinstance(event, sp.Data):
        core.start_data() if accept_data else core.resume()
    elif isinstance(event, sp.Auth):
        core.expect_auth_response()
    elif isinstance(event, (sp.AuthResponse, sp.StartTls)):
        core.resume()


def drive_bytewise(core: sp.SMTPServerProtocol, data: bytes, **kwargs: bool) -> list[sp.Event]:
    events: list[sp.Event] = []
    for i in range(len(data)):
        events += drive(core, data[i : i + 1], **kwargs)
    return fold(events)


def fold(events: list[sp.Event]) -> list[sp.Event]:
    """The events as if every message had arrived in one read: ``Content`` pieces joined into the
    ``MessageComplete``/``BdatChunk`` they lead to, dropped before a refusal (which discards them) and
    at the end (a message not finished yet may still turn out too big: whole, it would show nothing)."""
    folded: list[sp.Event] = []
    pending = b""
    for event in events:
        if isinstance(event, sp.Content):
            pending += event.data
            continue
        if isinstance(event, sp.MessageComplete):
            event = sp.MessageComplete(pending + event.tail)
        elif isinstance(event, sp.BdatChunk):
            event = sp.BdatChunk(pending + event.tail, event.last, event.size)
        pending = b""
        folded.append(event)
    return folded
