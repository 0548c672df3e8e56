"""Property tests: generated trees come back exactly; arbitrary bytes never raise; JSON round-trips."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.mime import ParsedMessage, Part, find_part, parse_message, search_text


@dataclass
class Leaf:
    kind: str
    body: bytes


@dataclass
class Multi:
    subtype: str
    children: list[Node]


@dataclass
class Rfc822:
    subject: str
    inner: Node


Node = Leaf | Multi | Rfc822

# Body lines never start with "--" so they cannot be taken for delimiters.
_line = st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").lstrip(b"-"))
_body = st.lists(_line, max_size=4)
_leaf = st.builds(Leaf, st.sampled_from(["text/plain", "text/html", "application/pdf"]), _body.map(b"\n".join))
_tree = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(Multi, st.sampled_from(["mixed", "alternative"]), st.lists(inner, min_size=1, max_size=4)),
        st.builds(Rfc822, st.text(alphabet="abc xyz", max_size=10), inner),
    ),
    max_leaves=12,
)


def join(prefix: str, number: int) -> str:
    return f"{prefix}.{number}" if prefix else str(number)


def render_in_message(node: Node, prefix: str, eol: bytes, expected: dict[str, bytes], marks: list[int]) -> bytes:
    """RFC 9051 6.4.5: a message's multipart body has parts prefix.N; any other body is prefix.1."""
    section = prefix if isinstance(node, Multi) else join(prefix, 1)
    return render(node, section, eol, expected, marks)


def render(node: Node, section: str, eol: bytes, expected: dict[str, bytes], marks: list[int]) -> bytes:
    """The entity for ``node`` (header + body); records each leaf body under its section number."""
    if isinstance(node, Leaf):
        expected[section] = node.body.replace(b"\n", eol)
        return b"Content-Type: " + node.kind.encode() + eol + eol + expected[section]
    if isinstance(node, Rfc822):
        inner = render_in_message(node.inner, section, eol, expected, marks)
        return b"Content-Type: message/rfc822" + eol + eol + b"Subject: " + node.subject.encode() + eol + inner
    marks[0] += 1
    mark = b"=_b%d" % marks[0]
    out = [b"Content-Type: multipart/" + node.subtype.encode() + b'; boundary="' + mark + b'"' + eol + eol]
    out.append(b"preamble" + eol)
    for index, child in enumerate(node.children, 1):
        out.append(b"--" + mark + eol + render(child, join(section, index), eol, expected, marks) + eol)
    out.append(b"--" + mark + b"--" + eol + b"epilogue" + eol)
    return b"".join(out)


def build(tree: Node, eol: bytes) -> tuple[bytes, dict[str, bytes]]:
    expected: dict[str, bytes] = {}
    raw = b"From: a@b" + eol + b"Subject: s" + eol + render_in_message(tree, "", eol, expected, [0])
    return raw, expected


@settings(max_examples=200, deadline=None)
@given(_tree, st.sampled_from([b"\r\n", b"\n"]))
def test_generated_trees_give_exact_bodies(tree: Node, eol: bytes) -> None:
    raw, expected = build(tree, eol)
    parsed = parse_message(raw)
    for section, body in expected.items():
        part = find_part(parsed.root, section)
        assert part is not None, section
        assert raw[part.body_start : part.body_end] == body, section
    check_invariants(parsed)


def check_invariants(parsed: ParsedMessage) -> None:
    assert ParsedMessage.from_json(parsed.to_json()) == parsed
    walk(parsed.root, 0, parsed.size)


def walk(part: Part, floor: int, ceiling: int) -> None:
    assert floor <= part.header_start <= part.body_start <= part.body_end <= ceiling
    assert (part.content_type == "multipart") == bool(part.children)
    assert (part.content_type == "message" and part.content_subtype in ("rfc822", "global")) == (
        part.message is not None
    )
    position = part.body_start
    for child in part.children:
        walk(child, position, part.body_end)
        position = child.body_end
    if part.message is not None:
        walk(part.message.root, part.body_start, part.body_end)


_FRAGMENTS = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b'Content-Type: multipart/digest; boundary="b"\n',
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: text/plain; name*0*=utf-8''%C3; name*1*=%A9\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"--b\r\n",
        b"--b--\r\n",
        b'From: "x" <a@b>, g: c@d; (\r\n',
        b"Subject: =?utf-8?q?=C3?= =?utf-8?b?w6k=?=\r\n",
        b" folded\r\n",
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n",
        b"no colon\r\n",
    ]
)
_soup = st.lists(st.one_of(_FRAGMENTS, st.binary(max_size=20)), max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=500), _soup))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert parsed.size == len(raw)
    check_invariants(parsed)
    search_text(raw, parsed)


_header_text = st.text(st.characters(exclude_characters="\r\n"), max_size=60)


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            name: _header_text
            for name in ("Date", "Subject", "From", "Sender", "To", "Message-ID", "References", "Content-Type")
        }
    )
)
def test_arbitrary_header_values_round_trip(values: dict[str, str]) -> None:
    raw = "".join(f"{name}: {value}\r\n" for name, value in values.items()).encode("utf-8", "surrogatepass")
    parsed = parse_message(raw + b"\r\nbody\r\n")
    check_invariants(parsed)
