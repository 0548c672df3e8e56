"""The examples of RFC 5229 (variables), 5230 (vacation), 5232 (imap4flags) and 5173 (body), and the
other extensions' behaviour, as test vectors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pillarbox.sieve.actions import Discard, FileInto, Keep, Redirect, Reject, Remember, Vacation
from pillarbox.sieve.context import SpamVerdict
from tests.sieve.helpers import execute


def message(*fields: str, body: str = "body\r\n") -> bytes:
    return ("".join(f + "\r\n" for f in fields) + "\r\n" + body).encode()


def filed(script: str, raw: bytes | None = None, **kwargs: object) -> list[str]:
    result = execute(script, raw, **kwargs) if raw is not None else execute(script, **kwargs)
    assert result.error is None, result.error
    return [a.mailbox for a in result.actions if isinstance(a, FileInto)]


# RFC 5229 3: variable references
@pytest.mark.parametrize(("value", "expanded"), [
    ("&%${}!", "&%${}!"),
    ("${doh!}", "${doh!}"),
    ("${full}", ""),
    ("${company}", "ACME"),
    ("${BAD${Company}", "${BADACME"),
    ("${President, ${Company} Inc.}", "${President, ACME Inc.}"),
])
def test_rfc5229_references(value: str, expanded: str) -> None:
    script = f'require ["variables", "fileinto"]; set "company" "ACME"; fileinto "<{value}>";'
    assert filed(script) == [f"<{expanded}>"]


# RFC 5229 4.1: set and its modifiers
@pytest.mark.parametrize(("modifiers", "value", "result"), [
    ("", "${a}", "juMBlEd lETteRS"),
    (":length", "${a}", "15"),
    (":lower", "${a}", "jumbled letters"),
    (":upperfirst", "${a}", "JuMBlEd lETteRS"),
    (":upperfirst :lower", "${a}", "Jumbled letters"),
    (":quotewildcard", "Rock*", "Rock\\*"),
])
def test_rfc5229_set_modifiers(modifiers: str, value: str, result: str) -> None:
    script = (f'require ["variables", "fileinto"]; set "a" "juMBlEd lETteRS"; set {modifiers} "b" "{value}";'
              ' fileinto "${b}";')
    assert filed(script) == [result]


def test_rfc5229_multiline_set() -> None:
    script = ('require ["variables", "reject"];\nset "honorific" "Mr";\nset "first_name" "Wile";\n'
              'set "last_name" "Coyote";\nset "vacation" text:\nDear ${HONORIFIC} ${last_name},\n'
              "I'm out, please leave a message after the meep.\n.\n;\nreject \"${vacation}\";")
    expected = "Dear Mr Coyote,\r\nI'm out, please leave a message after the meep.\r\n"
    assert execute(script).actions == (Reject(expected),)


def test_rfc5229_match_variables() -> None:
    script = """require ["variables", "fileinto"];
    if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.${2}"; stop; }
    if header :matches "Subject" "[*] *" { fileinto "INBOX.lists.${1}"; stop; }
    if address :matches ["To", "Cc"] ["coyote@**.com", "wile@**.com"] {
        fileinto "INBOX.business.${2}.${1}x"; stop; }
    """
    listed = message("List-Id: Sieve group <sieve-discuss@example.org>", "Subject: x")
    assert filed(script, listed) == ["INBOX.lists.sieve-discuss"]
    assert filed(script, message("Subject: [acme-users] [fwd] version 1.0 is out")) == ["INBOX.lists.acme-users"]
    assert filed(script, message("To: coyote@ACME.Example.COM")) == ["INBOX.business.ACME.Example.x"]


def test_rfc5229_string_test() -> None:
    script = """require ["variables", "fileinto"];
    set "state" "${state} pending";
    if string :matches " ${state} " "* pending *" { fileinto "yes"; }
    if string :count "eq" :comparator "i;ascii-numeric" ["", "a", ""] "1" { fileinto "one"; }"""
    full = script.replace('"fileinto"]', '"fileinto", "relational", "comparator-i;ascii-numeric"]')
    assert filed(full, message("Subject: x")) == ["yes", "one"]


def test_match_variables_unchanged_by_short_circuit() -> None:
    script = """require ["variables", "fileinto"];
    if header :matches "Subject" "*" { set "s" "${1}"; }
    if anyof (true, address :domain :matches "To" "*.com") { fileinto "${1}"; }"""
    assert filed(script, message("Subject: hi", "To: a@b.com")) == ["hi"]


# RFC 5230
def test_rfc5230_vacation_examples() -> None:
    script = """require "vacation";
    if header :contains "subject" "cyrus" { vacation "I'm out -- send mail to cyrus-bugs"; }
    else { vacation "I'm out -- call me at +1 304 555 0123"; }"""
    (action, keep) = execute(script, message("Subject: cyrus is down")).actions
    assert isinstance(action, Vacation) and action.reason == "I'm out -- send mail to cyrus-bugs"
    assert action.seconds == 7 * 86400 and keep == Keep(implicit=True)  # vacation keeps the message


def test_rfc5230_vacation_arguments() -> None:
    script = """require ["vacation", "variables"];
    if header :matches "subject" "*" {
        vacation :days 23 :addresses ["tjs@example.edu", "ts4z@landru.example.edu"] :from "hemingway@example.com"
          :subject "Automatic response to: ${1}" :handle "ran-away"
          "I'm away until October 19.  If it's an emergency, call 911, I guess." ;
    }"""
    action = execute(script, message("Subject: lunch?")).actions[0]
    assert action == Vacation("I'm away until October 19.  If it's an emergency, call 911, I guess.",
                              23 * 86400, "Automatic response to: lunch?", "hemingway@example.com",
                              ("tjs@example.edu", "ts4z@landru.example.edu"), False, "ran-away")


def test_vacation_days_are_clamped_and_default_handles_differ() -> None:
    first = execute('require "vacation"; vacation :days 0 "a";').actions[0]
    second = execute('require "vacation"; vacation :days 1000 "b";').actions[0]
    assert isinstance(first, Vacation) and isinstance(second, Vacation)
    assert first.seconds == 86400 and second.seconds == 90 * 86400 and first.handle != second.handle
    seconds = execute('require "vacation-seconds"; vacation :seconds 90000 "a";').actions[0]
    assert isinstance(seconds, Vacation) and seconds.seconds == 90000


def test_two_vacations_are_a_runtime_error() -> None:
    result = execute('require "vacation"; vacation "a"; vacation "b";')
    assert result.error is not None and result.actions == (Keep(implicit=True),)


# RFC 5232
def test_rfc5232_internal_flags_and_implicit_keep() -> None:
    script = """require "imap4flags";
    if size :over 10 {
        setflag "\\\\Deleted"; addflag ["\\\\Seen", "\\\\Flagged  \\\\Seen"]; removeflag "\\\\Deleted";
    }"""
    assert execute(script).actions == (Keep(("\\Seen", "\\Flagged"), implicit=True),)


def test_rfc5232_flag_variables_and_fileinto_flags() -> None:
    script = """require ["imap4flags", "fileinto", "variables"];
    if header :contains "from" "coyote" {
        setflag "flagvar" "\\\\Flagged";
        fileinto :flags "${flagvar} $Work" "INBOX.From Boss";
        keep :flags "a";
    }"""
    assert execute(script).actions == (FileInto("INBOX.From Boss", ("\\Flagged", "$Work")), Keep(("a",)))


def test_rfc5232_hasflag() -> None:
    script = """require ["imap4flags", "fileinto", "relational", "comparator-i;ascii-numeric"];
    addflag "MyVar" ["Junk", "\\\\Seen"];
    if hasflag :contains "MyVar" "Junk" { fileinto "has"; }
    addflag ["a", "b"];
    if hasflag :count "ge" :comparator "i;ascii-numeric" "2" { fileinto "two"; }
    if hasflag "c" { fileinto "c"; }"""
    assert filed(script) == ["has", "two"]


# RFC 5173
MULTIPART = message(
    "Content-Type: multipart/mixed; boundary=b", "Subject: plans",
    body=("--b\r\nContent-Type: text/plain\r\n\r\nThe missile is ready.\r\n"
          "--b\r\nContent-Type: text/html\r\n\r\n<p>The <b>project schedule</b></p>\r\n"
          "--b\r\nContent-Type: audio/mp3\r\nContent-Transfer-Encoding: base64\r\n\r\nTUFLRSBNT05FWSBGQVNU\r\n"
          "--b--\r\n"),
)


def test_rfc5173_examples() -> None:
    script = """require ["body", "fileinto"];
    if body :text :contains "project schedule" { fileinto "project/schedule"; }
    if body :content "text" :contains ["missile", "coordinates"] { fileinto "secrets"; }
    if body :content "audio/mp3" :contains "" { fileinto "jukebox"; }
    if body :raw :contains "TUFLRSBNT05FWSBGQVNU" { fileinto "raw"; }
    if body :content "audio" :contains "MAKE MONEY" { fileinto "decoded"; }
    if body :content "image" :contains "" { fileinto "never"; }"""
    assert filed(script, MULTIPART) == ["project/schedule", "secrets", "jukebox", "raw", "decoded"]


# other extensions
def test_reject_and_ereject() -> None:
    assert execute('require "reject"; reject "go away";').actions == (Reject("go away"),)
    assert execute('require "ereject"; ereject "no";').actions == (Reject("no", extended=True),)
    conflict = execute('require ["reject", "fileinto"]; fileinto "a"; reject "no";')
    assert conflict.error is not None and conflict.actions == (Keep(implicit=True),)


def test_copy_keeps_the_implicit_keep() -> None:
    script = 'require ["copy", "fileinto"]; redirect :copy "a@b.example"; fileinto :copy "x";'
    assert execute(script).actions == (Redirect("a@b.example", copy=True), FileInto("x", copy=True),
                                       Keep(implicit=True))


def test_relational_and_subaddress() -> None:
    script = """require ["relational", "subaddress", "envelope", "fileinto", "comparator-i;ascii-numeric"];
    if envelope :detail "to" "lists" { fileinto "detail"; }
    if envelope :user "to" "me" { fileinto "user"; }
    if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" { fileinto "many"; }
    if header :value "gt" :comparator "i;ascii-numeric" "X-Priority" "3" { fileinto "low"; }"""
    raw = message("To: a@x.example, b@x.example", "Cc: c@x.example", "X-Priority: 5")
    assert filed(script, raw, recipient="me+lists@example.com") == ["detail", "user", "many", "low"]
    assert filed(script, raw, recipient="me@example.com") == ["user", "many", "low"]


def test_date_index_and_currentdate() -> None:
    script = """require ["date", "index", "relational", "fileinto"];
    if date :originalzone "date" "zone" "-0700" { fileinto "zone"; }
    if date :zone "+0000" "date" "hour" "16" { fileinto "utc"; }
    if date :index 1 :last "received" "date" "30" { fileinto "oldest"; }
    if currentdate :value "ge" "date" "2025-07-01" { fileinto "now"; }
    if currentdate "weekday" "2" { fileinto "tuesday"; }
    if currentdate "iso8601" "2025-07-01T12:00:00+00:00" { fileinto "iso"; }"""
    raw = message("Received: from a; Tue, 1 Jul 2025 10:00:00 +0000",
                  "Received: from b; Mon, 30 Jun 2025 10:00:00 +0000", "Date: Tue, 1 Jul 2025 09:59:00 -0700")
    assert filed(script.replace('"date" "2025', '"iso8601" "2025'), raw) == ["zone", "utc", "oldest", "now",
                                                                            "tuesday", "iso"]
    assert datetime(2025, 7, 1, tzinfo=UTC).weekday() == 1


def test_duplicate_asks_and_remembers() -> None:
    script = 'require ["duplicate", "fileinto"]; if duplicate { fileinto "dups"; }'
    fresh = execute(script)
    remembered = [a for a in fresh.actions if isinstance(a, Remember)]
    assert len(remembered) == 1 and not remembered[0].refresh
    again = execute(script, seen={remembered[0].key: True})
    assert [a for a in again.actions if isinstance(a, FileInto)] == [FileInto("dups")]
    assert not [a for a in again.actions if isinstance(a, Remember)]


def test_mailbox_extension() -> None:
    script = 'require ["mailbox", "fileinto"]; if mailboxexists "Lists" { fileinto :create "Lists/x"; }'
    assert execute(script, mailboxes=frozenset({"Lists"})).actions == (FileInto("Lists/x", create=True),)
    assert execute(script).actions == (Keep(implicit=True),)


def test_include_return_global_and_loops() -> None:
    main = """require ["include", "variables", "fileinto"];
    global "box"; set "box" "from-main"; include :once "lib"; include :once "lib";
    include :optional "missing"; fileinto "${box}";"""
    lib = 'require ["include", "variables", "fileinto"]; global "box"; fileinto "lib-${box}"; return; discard;'
    assert filed(main, includes={("personal", "lib"): lib}) == ["lib-from-main", "from-main"]
    looping = execute('require "include"; include "self";', includes={("personal", "self"):
                                                                        'require "include"; include "self";'})
    assert looping.error is not None and "loop" in str(looping.error)
    missing = execute('require "include"; include :global "nope";')
    assert missing.error is not None and missing.actions == (Keep(implicit=True),)


def test_editheader() -> None:
    script = """require ["editheader", "fileinto"];
    addheader "X-Filtered" "yes, é";
    deleteheader :matches "Subject" "*acme*";
    deleteheader "Received";
    if header :is "X-Filtered" "yes, é" { fileinto "seen-edit"; }
    if not exists "Subject" { fileinto "no-subject"; }"""
    result = execute(script)
    boxes = [a for a in result.actions if isinstance(a, FileInto)]
    assert [b.mailbox for b in boxes] == ["seen-edit", "no-subject"]
    headers = boxes[0].headers
    assert headers is not None and headers.startswith(b"X-Filtered: yes, =?UTF-8?B?")
    assert b"Subject:" not in headers and b"Received:" in headers  # Received is protected


def test_spamtest_without_and_with_a_verdict() -> None:
    script = """require ["spamtest", "relational", "comparator-i;ascii-numeric", "fileinto"];
    if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto "Junk"; }
    elsif spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "untested"; }"""
    assert filed(script) == ["untested"]
    assert filed(script, spam=SpamVerdict(8, 90)) == ["Junk"]
    assert filed(script, spam=SpamVerdict(1, 0)) == []


def test_environment() -> None:
    script = """require ["environment", "fileinto"];
    if environment :is "location" "MDA" { fileinto "mda"; }
    if environment :contains "nope" "" { fileinto "never"; }"""
    assert filed(script, environment={"location": "MDA"}) == ["mda"]


def test_discard_cancels_keep() -> None:
    assert execute("discard;").actions == (Discard(),)


def test_encoded_character() -> None:
    script = 'require ["encoded-character", "fileinto"]; fileinto "${hex: 41 42}${unicode:263a}";'
    assert filed(script) == ["AB\u263a"]
