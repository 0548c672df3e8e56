"""MIME nesting is capped (``Limits.max_depth``, 100): past it a container becomes an opaque part, so
every walker of the tree (the parser, the stored JSON, BODYSTRUCTURE, the search text, PREVIEW)
recurses at most that deep, with room to spare below Python's recursion limit."""

from __future__ import annotations

from pillarbox.imap.bodystructure import body_structure
from pillarbox.imap.objectid import preview
from pillarbox.mime import ParsedMessage, Part, parse_message, search_text

STACK_ALREADY_USED = 300  # frames the server's own call path may hold when it walks a tree


def nested(depth: int) -> bytes:
    """Multiparts and message/rfc822 parts in turn, ``depth`` of them, around one HTML part."""
    layers = [
        b"Content-Type: message/rfc822\r\n\r\n" if level % 2
        else b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (level, level)
        for level in range(depth)
    ]
    return b"".join(layers) + b"Content-Type: text/html\r\n\r\n<p>deep</p>\r\n"


def depth_of(part: Part) -> int:
    depth = 0
    while part.children or part.message is not None:
        part = part.children[0] if part.children else part.message.root  # type: ignore[union-attr]
        depth += 1
    return depth


def walk_everything(raw: bytes) -> tuple[ParsedMessage, bytes, str]:
    parsed = parse_message(raw)
    assert ParsedMessage.from_json(parsed.to_json()) == parsed
    return parsed, body_structure(parsed.root), search_text(raw, parsed)[1] + preview(raw, parsed)


def on_a_used_stack(frames: int, raw: bytes) -> tuple[ParsedMessage, bytes, str]:
    return walk_everything(raw) if frames == 0 else on_a_used_stack(frames - 1, raw)


def test_ten_thousand_levels_are_read_as_a_hundred_then_an_opaque_part() -> None:
    raw = nested(10_000)
    parsed, structure, text = on_a_used_stack(STACK_ALREADY_USED, raw)
    assert depth_of(parsed.root) == 100
    innermost = parsed.root
    while innermost.children or innermost.message is not None:
        innermost = innermost.children[0] if innermost.children else innermost.message.root  # type: ignore[union-attr]
    assert (innermost.content_type, innermost.content_subtype) == ("application", "octet-stream")
    assert structure.count(b"(") > 100 and "deep" not in text  # the opaque rest is not indexed


def test_the_text_at_the_deepest_level_allowed_is_indexed() -> None:
    _parsed, _structure, text = on_a_used_stack(STACK_ALREADY_USED, nested(99))
    assert "deep" in text
