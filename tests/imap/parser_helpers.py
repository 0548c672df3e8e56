"""Shared helpers for the parser tests."""

import pytest

from pillarbox.errors import ProtocolError
from pillarbox.imap.framing import FramedCommand
from pillarbox.imap.parser import Command, parse_command
from pillarbox.imap.response import TaggedReply


def parse(raw: bytes, utf8: bool = False) -> Command:
    return parse_command(FramedCommand(raw.split(b" ", 1)[0].decode("ascii", "replace"), raw), utf8=utf8)


def refused(raw: bytes, utf8: bool = False) -> TaggedReply:
    with pytest.raises(ProtocolError) as info:
        parse(raw, utf8)
    reply = info.value.reply
    assert isinstance(reply, TaggedReply)
    return reply
