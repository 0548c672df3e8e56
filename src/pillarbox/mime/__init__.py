"""MIME parsing done once at delivery: the part tree with byte offsets, ENVELOPE, search text.

See ``structure`` for the parser, ``model`` for what it produces, ``envelope`` for IMAP ENVELOPE
and RFC 2047, ``transfer`` for BINARY decoding and ``search_text`` for the index text.
"""

from pillarbox.mime.addresses import Address, parse_address_list
from pillarbox.mime.envelope import Envelope, decode_header_value
from pillarbox.mime.model import Encapsulated, ParsedMessage, Part, find_part
from pillarbox.mime.search_text import search_text
from pillarbox.mime.structure import Limits, parse_message
from pillarbox.mime.transfer import KNOWN_ENCODINGS, decode_body

__all__ = [
    "KNOWN_ENCODINGS",
    "Address",
    "Encapsulated",
    "Envelope",
    "Limits",
    "ParsedMessage",
    "Part",
    "decode_body",
    "decode_header_value",
    "find_part",
    "parse_address_list",
    "parse_message",
    "search_text",
]
