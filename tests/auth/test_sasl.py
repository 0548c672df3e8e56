"""SASL mechanisms: RFC 4616 examples, the LOGIN draft example, the RFC 7677 SCRAM-SHA-256 vector,
RFC 4013 SASLprep examples, and hostile input."""

from __future__ import annotations

import base64

import pytest

from pillarbox.auth import sasl
from pillarbox.auth.sasl import AuthenticationFailed, Challenge, Done, NeedCredentials, SASLError

# -- base64 ----------------------------------------------------------------------------------------


def test_decode_response() -> None:
    assert sasl.decode_response(b"dGlt") == b"tim"
    assert sasl.decode_response(b"=", initial=True) == b""
    assert sasl.decode_response(b"") == b""


@pytest.mark.parametrize("text", [b"dGlt!", b"dGl", b"=", b"d G l t"])
def test_bad_base64(text: bytes) -> None:
    with pytest.raises(SASLError):
        sasl.decode_response(text)


def test_encode_challenge() -> None:
    assert sasl.encode_challenge(b"User Name\0") == "VXNlciBOYW1lAA=="


# -- PLAIN (RFC 4616) ------------------------------------------------------------------------------


def test_plain_rfc4616_first_example() -> None:
    mech = sasl.Plain()
    assert mech.start(None) == Challenge(b"")
    assert mech.step(b"\0tim\0tanstaaftanstaaf") == Done("tim", "", "tanstaaftanstaaf", verified=False)


def test_plain_rfc4616_second_example_proxy_refused() -> None:
    with pytest.raises(AuthenticationFailed):
        sasl.Plain().start(b"Ursel\0Kurt\0xipj3plmq")


def test_plain_authzid_equal_to_authcid_allowed() -> None:
    assert sasl.Plain().start(b"Kurt\0Kurt\0pw") == Done("Kurt", "Kurt", "pw", verified=False)


@pytest.mark.parametrize("message", [b"tim\0pw", b"\0\0pw", b"\0tim\0", b"\0a\0b\0c", b"\0\xff\0pw", b""])
def test_plain_malformed(message: bytes) -> None:
    with pytest.raises(SASLError):
        sasl.Plain().start(message)


def test_plain_saslprep_applied() -> None:
    done = sasl.Plain().start("\0I\u00adX\0\u2168".encode())
    assert isinstance(done, Done) and (done.authcid, done.password) == ("IX", "IX")


def test_step_after_done_is_refused() -> None:
    mech = sasl.Plain()
    mech.start(b"\0a\0b")
    with pytest.raises(SASLError):
        mech.step(b"\0a\0b")


# -- LOGIN (draft-murchison-sasl-login-00 2.3) -------------------------------------------------------


def test_login_draft_example() -> None:
    mech = sasl.Login()
    assert mech.start(None) == Challenge(b"Username:")
    assert mech.step(sasl.decode_response(b"dGlt")) == Challenge(b"Password:")
    done = mech.step(sasl.decode_response(b"dGFuc3RhYWZ0YW5zdGFhZg=="))
    assert done == Done("tim", "", "tanstaaftanstaaf", verified=False)


def test_login_with_initial_response() -> None:
    mech = sasl.Login()
    assert mech.start(b"tim") == Challenge(b"Password:")
    assert isinstance(mech.step(b"pw"), Done)


@pytest.mark.parametrize("responses", [[b""], [b"tim", b""], [b"t\0m"]])
def test_login_malformed(responses: list[bytes]) -> None:
    mech = sasl.Login()
    mech.start(None)
    with pytest.raises(SASLError):
        for response in responses:
            mech.step(response)


# -- SCRAM-SHA-256 (RFC 7677 3) ----------------------------------------------------------------------

CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
PENCIL = sasl.scram_credentials_from_password("pencil", base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096)


def rfc7677_mech() -> sasl.ScramSha256:
    return sasl.ScramSha256(nonce_factory=lambda: SERVER_NONCE)


def test_scram_rfc7677_vector() -> None:
    mech = rfc7677_mech()
    assert mech.start(CLIENT_FIRST) == NeedCredentials("user")
    assert mech.supply_credentials(PENCIL) == Challenge(SERVER_FIRST)
    done = mech.step(CLIENT_FINAL)
    assert done == Done("user", "", None, verified=True, additional_data=SERVER_FINAL)


def test_scram_without_initial_response() -> None:
    mech = rfc7677_mech()
    assert mech.start(None) == Challenge(b"")
    assert mech.step(CLIENT_FIRST) == NeedCredentials("user")


def test_scram_wrong_password_fails() -> None:
    mech = rfc7677_mech()
    mech.start(CLIENT_FIRST)
    mech.supply_credentials(sasl.scram_credentials_from_password("pencils", PENCIL.salt, 4096))
    with pytest.raises(AuthenticationFailed):
        mech.step(CLIENT_FINAL)


def test_scram_unknown_user_runs_to_the_end_with_a_salt_fixed_by_the_secret() -> None:
    """The fake salt depends on the server secret and the name only: the same at every try, another
    for another name or another server, and the iteration count is the one real accounts have."""

    def server_first(secret: bytes, user: str = "user") -> bytes:
        mech = rfc7677_mech()
        mech.start(CLIENT_FIRST.replace(b"n=user", b"n=" + user.encode()))
        challenge = mech.supply_credentials(sasl.fake_scram_credentials(secret, user, 600_000))
        assert isinstance(challenge, Challenge)
        if user == "user":
            with pytest.raises(AuthenticationFailed):
                mech.step(CLIENT_FINAL)
        return challenge.data.split(b",", 1)[1]

    assert server_first(b"k" * 32) == server_first(b"k" * 32)
    assert server_first(b"k" * 32).endswith(b",i=600000")
    assert server_first(b"k" * 32) != server_first(b"j" * 32)
    assert server_first(b"k" * 32) != server_first(b"k" * 32, "other")


def test_scram_y_flag_allowed() -> None:
    assert rfc7677_mech().start(b"y,,n=user,r=abc") == NeedCredentials("user")


@pytest.mark.parametrize(
    "client_first",
    [
        b"p=tls-unique,,n=user,r=abc",  # channel binding refused
        b"x,,n=user,r=abc",
        b"n,,m=ext,n=user,r=abc",  # reserved mandatory extension: MUST fail
        b"n,,n=us=2Xer,r=abc",  # bad saslname escape
        b"n,,n=user",
        b"n,,r=abc,n=user",
        b"n,a=admin,n=user,r=abc",  # proxy authorization
        b"n,,n=,r=abc",
        b"n,,n=\xff,r=abc",
    ],
)
def test_scram_bad_client_first(client_first: bytes) -> None:
    with pytest.raises(SASLError):
        sasl.ScramSha256().start(client_first)


def test_scram_saslname_escapes() -> None:
    assert sasl.ScramSha256().start(b"n,,n=a=2Cb=3Dc,r=abc") == NeedCredentials("a,b=c")


@pytest.mark.parametrize(
    "client_final",
    [
        CLIENT_FINAL.replace(b"c=biws", b"c=eSws"),  # gs2 header mismatch
        CLIENT_FINAL.replace(b"hNlF$k0", b"hNlF$k1"),  # nonce mismatch
        CLIENT_FINAL.replace(b"p=dHzb", b"p=!Hzb"),  # bad base64
        CLIENT_FINAL.rpartition(b",")[0],  # no proof
        b"garbage",
    ],
)
def test_scram_bad_client_final(client_final: bytes) -> None:
    mech = rfc7677_mech()
    mech.start(CLIENT_FIRST)
    mech.supply_credentials(PENCIL)
    with pytest.raises(SASLError):
        mech.step(client_final)


def test_scram_misuse() -> None:
    mech = rfc7677_mech()
    with pytest.raises(SASLError):
        mech.supply_credentials(PENCIL)
    mech.start(CLIENT_FIRST)
    with pytest.raises(SASLError):
        mech.step(CLIENT_FINAL)  # credentials not supplied yet


def test_scram_credentials_deterministic_with_salt() -> None:
    again = sasl.scram_credentials_from_password("pencil", PENCIL.salt, 4096)
    assert again == PENCIL and len(PENCIL.stored_key) == len(PENCIL.server_key) == 32
    assert len(sasl.scram_credentials_from_password("x", iterations=4096).salt) == 16


# -- SASLprep (RFC 4013 3) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("I\u00adX", "IX"), ("user", "user"), ("USER", "USER"), ("\u00aa", "a"), ("\u2168", "IX"), ("a\u00a0b", "a b")],
)
def test_saslprep_rfc4013_examples(given: str, expected: str) -> None:
    assert sasl.saslprep(given) == expected


@pytest.mark.parametrize("given", ["\u0007", "\u0627\u0031", "a\u0627", "\ufffd", "\ud800"])
def test_saslprep_prohibited(given: str) -> None:
    with pytest.raises(SASLError):
        sasl.saslprep(given)


def test_saslprep_unassigned_only_for_queries() -> None:
    unassigned = "\u0221"  # unassigned in Unicode 3.2 (RFC 3454 table A.1)
    assert sasl.saslprep(unassigned) == unassigned
    with pytest.raises(SASLError):
        sasl.saslprep(unassigned, allow_unassigned=False)


def test_saslprep_rtl_string_allowed() -> None:
    assert sasl.saslprep("\u0627\u0628") == "\u0627\u0628"


# -- registry ----------------------------------------------------------------------------------------


def test_mechanisms_for() -> None:
    assert sasl.mechanisms_for(tls=False) == ()
    assert sasl.mechanisms_for(tls=True) == ("SCRAM-SHA-256", "PLAIN", "LOGIN")


def test_create() -> None:
    assert isinstance(sasl.create("plain"), sasl.Plain)
    assert isinstance(sasl.create("SCRAM-SHA-256"), sasl.ScramSha256)
    assert sasl.create("CRAM-MD5") is None
