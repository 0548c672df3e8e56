"""The compact JSON form of a ``ParsedMessage``, stored beside every message.

Short keys, and a key is written only when its value differs from the default, so a plain text
message costs about a hundred bytes. ``load(dump(m)) == m`` holds exactly: None and "" are kept
apart, and tuples come back as tuples. Format version 1; an unknown version is refused with
ValueError so a store can re-parse rather than misread.

Part:    o [header_start, body_start, body_end], t "type/subtype", p params, i id, d description,
         e encoding, n lines, m md5, x disposition, g language, l location, c children, r message
Message: r {p part, v envelope}.  Envelope: d s f se rt t c b ir mi, addresses as [n, a, m, h].
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pillarbox.mime.addresses import Address
from pillarbox.mime.envelope import Envelope
from pillarbox.mime.model import Encapsulated, ParsedMessage, Part
from pillarbox.mime.params import Params

VERSION = 1
_ENVELOPE_STRINGS = (("d", "date"), ("s", "subject"), ("ir", "in_reply_to"), ("mi", "message_id"))
_ENVELOPE_LISTS = (
    ("f", "from_"),
    ("se", "sender"),
    ("rt", "reply_to"),
    ("t", "to"),
    ("c", "cc"),
    ("b", "bcc"),
)
_PART_SCALARS = (
    ("i", "content_id", None),
    ("d", "description", None),
    ("e", "encoding", "7BIT"),
    ("n", "body_lines", 0),
    ("m", "md5", None),
    ("l", "location", None),
)


def dump(message: ParsedMessage) -> str:
    data: dict[str, Any] = {"v": VERSION, "p": _part_out(message.root), "e": _envelope_out(message.envelope)}
    envelope = message.envelope
    _put(data, "s", message.subject, envelope.subject or "")
    _put(data, "f", message.from_, "")
    _put(data, "dt", message.date.isoformat() if message.date else None, None)
    _put(data, "mi", message.message_id, envelope.message_id)
    _put(data, "ir", message.in_reply_to, envelope.in_reply_to)
    _put(data, "rf", list(message.references), [])
    return json.dumps(data, separators=(",", ":"))


def load(text: str) -> ParsedMessage:
    data = json.loads(text)
    if data.get("v") != VERSION:
        raise ValueError(f"unknown parsed-message format version {data.get('v')!r}")
    envelope = _envelope_in(data["e"])
    date = data.get("dt")
    return ParsedMessage(
        root=_part_in(data["p"]),
        envelope=envelope,
        subject=data.get("s", envelope.subject or ""),
        from_=data.get("f", ""),
        date=datetime.fromisoformat(date) if date else None,
        message_id=data.get("mi", envelope.message_id),
        in_reply_to=data.get("ir", envelope.in_reply_to),
        references=tuple(data.get("rf", ())),
    )


def _put(data: dict[str, Any], key: str, value: object, default: object) -> None:
    if value != default:
        data[key] = value


def _part_out(part: Part) -> dict[str, Any]:
    data: dict[str, Any] = {"o": [part.header_start, part.body_start, part.body_end]}
    _put(data, "t", f"{part.content_type}/{part.content_subtype}", "text/plain")
    _put(data, "p", _params_out(part.params), [])
    for key, name, default in _PART_SCALARS:
        _put(data, key, getattr(part, name), default)
    if part.disposition is not None:
        data["x"] = [part.disposition[0], _params_out(part.disposition[1])]
    if part.language is not None:
        data["g"] = list(part.language)
    if part.children:
        data["c"] = [_part_out(child) for child in part.children]
    if part.message is not None:
        data["r"] = {"p": _part_out(part.message.root), "v": _envelope_out(part.message.envelope)}
    return data


def _part_in(data: dict[str, Any]) -> Part:
    kind, _slash, subtype = data.get("t", "text/plain").partition("/")
    disposition = data.get("x")
    language = data.get("g")
    inner = data.get("r")
    return Part(
        *data["o"],
        content_type=kind,
        content_subtype=subtype,
        params=_params_in(data.get("p", ())),
        **{name: data.get(key, default) for key, name, default in _PART_SCALARS},
        disposition=(disposition[0], _params_in(disposition[1])) if disposition is not None else None,
        language=tuple(language) if language is not None else None,
        children=tuple(_part_in(child) for child in data.get("c", ())),
        message=Encapsulated(_part_in(inner["p"]), _envelope_in(inner["v"])) if inner else None,
    )


def _params_out(params: Params) -> list[list[str]]:
    return [[name, value] for name, value in params]


def _params_in(params: list[list[str]] | tuple[()]) -> Params:
    return tuple((name, value) for name, value in params)


def _envelope_out(envelope: Envelope) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, name in _ENVELOPE_STRINGS:
        _put(data, key, getattr(envelope, name), None)
    for key, name in _ENVELOPE_LISTS:
        addresses = getattr(envelope, name)
        # Sender and Reply-To are usually copies of From (RFC 3501 7.4.2): store them only if not.
        default = envelope.from_ if key in ("se", "rt") else ()
        _put(data, key, _addresses_out(addresses), _addresses_out(default))
    return data


def _addresses_out(addresses: tuple[Address, ...]) -> list[list[str | None]]:
    return [[a.name, a.adl, a.mailbox, a.host] for a in addresses]


def _envelope_in(data: dict[str, Any]) -> Envelope:
    from_ = _addresses_in(data.get("f", ()))
    lists = {name: _addresses_in(data[key]) if key in data else () for key, name in _ENVELOPE_LISTS}
    lists["from_"] = from_
    for key, name in (("se", "sender"), ("rt", "reply_to")):
        if key not in data:
            lists[name] = from_
    strings = {name: data.get(key) for key, name in _ENVELOPE_STRINGS}
    return Envelope(**strings, **lists)


def _addresses_in(rows: list[list[str | None]] | tuple[()]) -> tuple[Address, ...]:
    return tuple(Address(*row) for row in rows)
