"""RFC 6857 downgrading: the header section comes out 7-bit and every field decodes back to its text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pillarbox.mime.downgrade import ascii_address, downgrade, split_addresses
from pillarbox.mime.headers import find_body_start, parse_fields
from pillarbox.mime.rfc2047 import decode_header_value
from pillarbox.mime.rfc2047_encode import encode_text, fold


def fields(message: bytes) -> list[tuple[str, str]]:
    return parse_fields(message, 0, find_body_start(message, 0, len(message)))


def header_lines(message: bytes) -> list[bytes]:
    return message[:find_body_start(message, 0, len(message))].split(b"\r\n")


def test_an_ascii_header_is_the_same_object_even_with_an_8bit_body() -> None:
    raw = "Subject: plain\r\n\r\nGrüße\r\n".encode()
    assert downgrade(raw) is raw


def test_the_rfc_6857_appendix_a_shapes() -> None:
    raw = ("Return-Path: <NON-ASCII-lócal@example.com>\r\n"
           "From: DISPLAY-lócal <NON-ASCII-lócal@example.com>\r\n"
           "To: Bob <bob@example.net>, DISPLAY-rémote <NON-ASCII-rémote@example.net>\r\n"
           "Subject: NON-ASCII-SÚBJECT\r\nMessage-Id: <ü@example.com>\r\n\r\nbody\r\n").encode()
    out = dict(fields(downgrade(raw)))
    assert out["return-path"].endswith(" :;")
    assert decode_header_value(out["return-path"][:-3]) == "<NON-ASCII-lócal@example.com>"
    assert decode_header_value(out["from"][:-3]) == "DISPLAY-lócal <NON-ASCII-lócal@example.com>"
    to = split_addresses(out["to"])
    assert to[0] == "Bob <bob@example.net>" and to[1].endswith(" :;")
    assert decode_header_value(out["subject"]) == "NON-ASCII-SÚBJECT"
    assert decode_header_value(out["downgraded-message-id"]) == "<ü@example.com>" and "message-id" not in out


def test_display_names_and_domains_keep_the_address_usable() -> None:
    raw = 'From: "Müller, Jörg" <joerg@Bücher.Example>\r\nCc: grüße@example.org\r\n\r\n'.encode()
    out = dict(fields(downgrade(raw)))
    name, _, addr = out["from"].rpartition(" ")
    assert decode_header_value(name) == "Müller, Jörg" and addr == "<joerg@xn--bcher-kva.example>"
    assert decode_header_value(out["cc"][:-3]) == "grüße@example.org"
    assert ascii_address("a@ü.example") == "a@xn--tda.example" and ascii_address("ü@x.test") is None


def test_groups_received_and_parameters() -> None:
    raw = ("To: Team: a@example.com, ö@example.com;, Ünï: b@example.com;\r\n"
           "Received: from a.example by mx.test with ESMTPS id 1\r\n"
           "\tfor <jörg@example.org>; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
           'Content-Type: text/plain; charset=utf-8; name="Grüße.txt"\r\n'
           "Content-Disposition: attachment; filename=Grüße.txt\r\n\r\n").encode()
    out = dict(fields(downgrade(raw)))
    team, uni = split_addresses(out["to"])
    assert team.startswith("Team: a@example.com; (") and decode_header_value(team.partition("; ")[2][1:-1]) == \
        "ö@example.com"
    assert decode_header_value(uni.partition(":")[0]) == "Ünï" and uni.endswith(": b@example.com;")
    assert out["received"] == "from a.example by mx.test with ESMTPS id 1; Mon, 1 Jan 2024 00:00:00 +0000"
    assert out["content-type"] == "text/plain; charset=\"utf-8\"; name*=UTF-8''Gr%C3%BC%C3%9Fe.txt"
    assert out["content-disposition"] == "attachment; filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt"


def test_latin1_bytes_and_junk_lines() -> None:
    raw = b"X-Old: caf\xe9\r\nthis line \xff has no colon\r\nSubject: ok\r\n\r\nbody"
    out = downgrade(raw)
    assert out == b"X-Old: =?UTF-8?B?Y2Fmw6k=?=\r\nSubject: ok\r\n\r\nbody"


@pytest.mark.parametrize("text", ["Grüße aus Köln", "a  ü\tb", "=?utf-8?q?not_a_word?= ü", "日本語" * 40, "ü" * 100])
def test_encoded_text_folds_into_short_lines_and_decodes_back(text: str) -> None:
    field = fold("Subject", encode_text(text))
    assert all(len(line) <= 78 for line in field.split("\r\n"))
    assert decode_header_value(field.partition(":")[2].replace("\r\n", "")[1:]) == text


# -- properties ------------------------------------------------------------------------------------------

_WORD = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12)
_TEXT = st.lists(st.tuples(_WORD, st.sampled_from([" ", "  ", "\t"])), min_size=1, max_size=15).map(
    lambda pairs: "".join(w + s for w, s in pairs).strip(" \t"))
_NAMES = st.sampled_from(["Subject", "Comments", "X-Custom", "Keywords", "Thread-Topic", "List-Id"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, _TEXT), min_size=1, max_size=6), st.binary(max_size=30))
def test_unstructured_fields_come_out_7bit_and_decode_back(pairs: list[tuple[str, str]], body: bytes) -> None:
    raw = "".join(f"{name}: {text}\r\n" for name, text in pairs).encode() + b"\r\n" + body
    out = downgrade(raw)
    end = find_body_start(out, 0, len(out))
    assert out[:end].isascii() and out[end:] == body
    assert all(len(line) <= 998 for line in header_lines(out))
    got = [(name, decode_header_value(value)) for name, value in fields(out)]
    assert got == [(name.lower(), text.strip(" \t")) for name, text in pairs]
    assert downgrade(out) is out


_LOCAL = st.text(st.sampled_from("abcxyz.-_äöüßé日本"), min_size=1, max_size=8).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)
_DOMAIN = st.lists(st.text(st.sampled_from("abcxyzäöü日"), min_size=1, max_size=6), min_size=1, max_size=3).map(
    lambda labels: ".".join([*labels, "example"]))
_DISPLAY = st.text(st.sampled_from("Abc ÄÖÜéß,.日本"), max_size=10).map(str.strip)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_DISPLAY, _LOCAL, _DOMAIN), min_size=1, max_size=5),
       st.sampled_from(["From", "To", "Cc", "Reply-To"]))
def test_address_fields_come_out_7bit_and_say_who_it_was(mailboxes: list[tuple[str, str, str]], name: str) -> None:
    def written(display: str, local: str, domain: str) -> str:
        return f'"{display}" <{local}@{domain}>' if display else f"{local}@{domain}"

    raw = f"{name}: {', '.join(written(*m) for m in mailboxes)}\r\n\r\n".encode()
    out = downgrade(raw)
    assert out.isascii()
    [(_, value)] = fields(out)
    items = split_addresses(value)
    assert len(items) == len(mailboxes)
    for item, (display, local, domain) in zip(items, mailboxes, strict=True):
        if item.endswith(" :;"):  # a UTF-8 local part: the RFC 6857 group carries the original text
            assert not local.isascii()
            original = f"{display} <{local}@{domain}>" if display else f"{local}@{domain}"
            assert decode_header_value(item[:-3]) == original
            continue
        assert local.isascii()
        addr = item.rpartition("<")[2].rstrip(">") if display else item
        assert addr == ascii_address(f"{local}@{domain}")
        assert addr.rpartition("@")[2].encode().decode("idna") == domain.lower()
        if display:
            assert decode_header_value(item.rpartition(" <")[0]) in (display, f'"{display}"')


HOSTILE = {
    "whitespace in an address": lambda n: "From: ü" + " " * n + "x <a@b.example>",
    "whitespace in Received": lambda n: "Received: from ü" + " " * n + "x for <ü@x.example>",
    "angle brackets": lambda n: "To: ü" + "<" * n,
    "words to encode": lambda n: "Subject: " + "ü " * n,
    "escaped quotes": lambda n: 'To: "ü' + '\\"' * n,
    "open comments": lambda n: "To: ü" + "(" * n,
    "for clauses": lambda n: "Received: ü" + " for x" * n,
    "a long domain label": lambda n: "To: a@" + "ü" * n,
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_downgrade_cost_is_linear(name: str) -> None:
    """8 times the input costs about 8 times the time (a quadratic step would cost 64 times, seconds here);
    the 50 ms of slack keeps the steps that take a millisecond from failing on a noisy machine."""
    import time

    def cost(n: int) -> float:
        raw = (HOSTILE[name](n) + "\r\n\r\nbody").encode()
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            assert downgrade(raw)[:find_body_start(raw, 0, len(raw))].isascii()
            best = min(best, time.perf_counter() - started)
        return best

    assert cost(160_000) < 30 * cost(20_000) + 0.05
