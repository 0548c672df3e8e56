"""ENVELOPE, BODY and BODYSTRUCTURE written from parsed messages (RFC 9051 7.5.2, Dovecot's layout)."""

import pytest

from pillarbox.imap.bodystructure import address_list, body_structure, envelope
from pillarbox.mime import parse_message
from pillarbox.mime.addresses import Address
from pillarbox.mime.envelope import Envelope

# The message of RFC 9051's FETCH example (section 8), with its body cut short.
RFC_EXAMPLE = (
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    b"From: Terry Gray <gray@cac.washington.edu>\r\n"
    b"Subject: IMAP4rev2 WG mtg summary and minutes\r\n"
    b"To: imap@cac.washington.edu\r\n"
    b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
    b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Hello,\r\nworld\r\n"
)


def test_rfc_example_envelope() -> None:
    parsed = parse_message(RFC_EXAMPLE)
    terry = b'(("Terry Gray" NIL "gray" "cac.washington.edu"))'
    assert envelope(parsed.envelope) == (
        b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes" '
        + terry
        + b" "
        + terry
        + b" "
        + terry
        + b' ((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
        b'"<B27397-0100000@cac.washington.edu>")'
    )


def test_rfc_example_body() -> None:
    parsed = parse_message(RFC_EXAMPLE)
    assert (
        body_structure(parsed.root, extensible=False) == b'("text" "plain" ("charset" "US-ASCII") NIL NIL "7BIT" 15 2)'
    )
    assert body_structure(parsed.root) == (
        b'("text" "plain" ("charset" "US-ASCII") NIL NIL "7BIT" 15 2 NIL NIL NIL NIL)'
    )


def test_missing_headers_envelope() -> None:
    parsed = parse_message(b"\r\nbody only\r\n")
    assert envelope(parsed.envelope) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    assert body_structure(parsed.root) == b'("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)'


def test_group_addresses() -> None:
    parsed = parse_message(
        b'From: a@b\r\nTo: Friends: x@y, "Q, R" <q@r>;, solo@z\r\nCc: undisclosed-recipients:;\r\n\r\n'
    )
    assert address_list(parsed.envelope.to) == (
        b'((NIL NIL "Friends" NIL)(NIL NIL "x" "y")("Q, R" NIL "q" "r")(NIL NIL NIL NIL)(NIL NIL "solo" "z"))'
    )
    assert address_list(parsed.envelope.cc) == b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))'


def test_envelope_8bit_and_quotes_as_literals() -> None:
    env = Envelope(subject='Caf\u00e9 "x"', from_=(Address("Jos\u00e9", "@relay", "j", "h"),))
    assert envelope(env) == (
        b'(NIL {9}\r\nCaf\xc3\xa9 "x" (({5}\r\nJos\xc3\xa9 "@relay" "j" "h")) NIL NIL NIL NIL NIL NIL NIL)'
    )
    assert envelope(env, utf8=True) == (
        '(NIL "Café \\"x\\"" (("José" "@relay" "j" "h")) NIL NIL NIL NIL NIL NIL NIL)'.encode()
    )


ALTERNATIVE = (
    b"From: a@b\r\nContent-Type: multipart/alternative; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"plain=20text\r\n"
    b"--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n<p>2</p>\r\n"
    b"--XX--\r\n"
)

MIXED = (
    b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\npreamble\r\n'
    b"--outer\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
    b'--outer\r\nContent-Type: application/octet-stream; name="data.bin"\r\n'
    b'Content-Disposition: attachment; filename="data.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\nContent-Description: Some data\r\n"
    b"Content-Location: http://example.com/data.bin\r\n\r\nAAECAw==\r\n"
    b"--outer--\r\nepilogue\r\n"
)

NESTED = (
    b"Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\n\r\nfirst\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
    b"Subject: inner\r\nFrom: In Ner <in@ner>\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
    b"--c\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--c--\r\n"
    b"--b--\r\n"
)

RFC2231 = (
    b"Content-Type: application/pdf;\r\n name*0*=utf-8''%E2%82%AC%20rate;\r\n name*1=\".pdf\"\r\n"
    b"Content-Language: de\r\nContent-ID: <id1@x>\r\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\nPDF\r\n"
)

CASES = {
    "alternative": (
        ALTERNATIVE,
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 12 0 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "7BIT" 21 1 NIL NIL NIL NIL)'
        b' "alternative" ("boundary" "XX") NIL NIL NIL)',
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 12 0)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "7BIT" 21 1) "alternative")',
    ),
    "mixed": (
        MIXED,
        b'(("text" "plain" NIL NIL NIL "7BIT" 14 0 NIL NIL NIL NIL)'
        b'("application" "octet-stream" ("name" "data.bin") NIL "Some data" "BASE64" 8 NIL'
        b' ("attachment" ("filename" "data.bin")) NIL "http://example.com/data.bin")'
        b' "mixed" ("boundary" "outer") NIL NIL NIL)',
        b'(("text" "plain" NIL NIL NIL "7BIT" 14 0)'
        b'("application" "octet-stream" ("name" "data.bin") NIL "Some data" "BASE64" 8) "mixed")',
    ),
    "nested": (
        NESTED,
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)'
        b'("message" "rfc822" NIL NIL NIL "7BIT" 140'
        b' (NIL "inner" (("In Ner" NIL "in" "ner")) (("In Ner" NIL "in" "ner")) (("In Ner" NIL "in" "ner"))'
        b" NIL NIL NIL NIL NIL)"
        b' (("text" "plain" NIL NIL NIL "7BIT" 10 0 NIL NIL NIL NIL) "alternative" ("boundary" "c") NIL NIL NIL)'
        b' 8 NIL ("inline" NIL) NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)',
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 0)'
        b'("message" "rfc822" NIL NIL NIL "7BIT" 140'
        b' (NIL "inner" (("In Ner" NIL "in" "ner")) (("In Ner" NIL "in" "ner")) (("In Ner" NIL "in" "ner"))'
        b" NIL NIL NIL NIL NIL)"
        b' (("text" "plain" NIL NIL NIL "7BIT" 10 0) "alternative") 8) "mixed")',
    ),
    "rfc2231": (
        RFC2231,
        b'("application" "pdf" ("name" {12}\r\n\xe2\x82\xac rate.pdf) "<id1@x>" NIL "7BIT" 5'
        b' "Q2hlY2sgSW50ZWdyaXR5IQ==" NIL ("de") NIL)',
        b'("application" "pdf" ("name" {12}\r\n\xe2\x82\xac rate.pdf) "<id1@x>" NIL "7BIT" 5)',
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bodystructure(name: str) -> None:
    raw, structure, body = CASES[name]
    root = parse_message(raw).root
    assert body_structure(root) == structure
    assert body_structure(root, extensible=False) == body


def test_bodystructure_utf8_mode_quotes() -> None:
    root = parse_message(RFC2231).root
    assert b'("name" "\xe2\x82\xac rate.pdf")' in body_structure(root, utf8=True)
