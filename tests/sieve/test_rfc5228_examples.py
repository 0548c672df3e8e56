"""RFC 5228's own examples as test vectors for the parser and the interpreter."""

from __future__ import annotations

import pytest

from pillarbox.sieve.actions import Discard, FileInto, Keep, Redirect
from pillarbox.sieve.compiler import compile_script
from pillarbox.sieve.errors import SieveSyntaxError
from tests.sieve.helpers import MESSAGE, execute

SECTION_9 = """
#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
"""


def message(*fields: str, body: str = "body\r\n") -> bytes:
    return ("".join(f + "\r\n" for f in fields) + "\r\n" + body).encode()


@pytest.mark.parametrize(("fields", "expected"), [
    (("Sender: owner-ietf-mta-filters@imc.org", "From: a@b.example"), FileInto("filter")),
    (("From: boss@example.com", "To: x@y.example"), Keep()),
    (("From: x@y.example", "To: someone@else.example"), FileInto("spam")),
    (("From: x@y.example", "To: l@y.example", "Cc: me@example.com", "Subject: Make Money Fast!"), FileInto("spam")),
    (("From: x@y.example", "To: l@y.example", "Cc: me@example.com", "Subject: hello"), FileInto("personal")),
])
def test_section_9_example(fields: tuple[str, ...], expected: object) -> None:
    assert execute(SECTION_9, message(*fields)).actions == (expected,)


def test_multiline_string_and_dot_stuffing() -> None:
    script = compile_script('require "reject";\nreject text:\n..first\nsecond\n.\n;\n')
    assert script.commands[0].args == (".first\r\nsecond\r\n",)


def test_quoted_string_escapes() -> None:
    # 2.4.2: \" and \\ are escapes; an undefined escape is the character itself
    script = compile_script(r'redirect "a\"b\\c\d@example.com";')
    assert script.commands[0].args == ('a"b\\cd@example.com',)


@pytest.mark.parametrize("script", [
    'if header :contains "from" "coyote" { discard; }',
    'if header :contains :comparator "i;octet" "Subject" "version" { discard; }',
    'if not exists ["From","Date"] { keep; } else { discard; }',
    'if size :over 10 { discard; }',
    'if envelope :all :is "from" "coyote@desert.example.org" { discard; }',
    'if anyof (size :over 1M, header :contains "subject" "acme") { discard; }',
    'if allof (header :contains "from" "Coyote", header :contains "to" "me") { discard; }',
    'if address :localpart :is "from" "coyote" { discard; }',
])
def test_section_5_tests_that_hold(script: str) -> None:
    requires = 'require "envelope";\n' if "envelope" in script else ""
    assert execute(requires + script).actions == (Discard(),)


@pytest.mark.parametrize("script", [
    'if header :contains :comparator "i;octet" "Subject" "VERSION" { discard; }',
    'if size :under 10 { discard; }',
    'if true { stop; } discard;',
    'if false { discard; }',
])
def test_section_5_tests_that_fail(script: str) -> None:
    assert execute(script).actions == (Keep(implicit=True),)


def test_section_3_1_if_elsif_else() -> None:
    script = """
    if header :contains ["From"] ["coyote"] { redirect "acm@example.com"; }
    elsif header :contains "Subject" "$$$" { redirect "postmaster@example.com"; }
    else { redirect "field@example.com"; }
    """
    assert execute(script).actions == (Redirect("acm@example.com"),)
    other = message("From: roadrunner@example.net", "Subject: $$$ win")
    assert execute(script, other).actions == (Redirect("postmaster@example.com"),)


@pytest.mark.parametrize(("script", "error"), [
    ('fileinto "x";', "needs require"),
    ('keep; require "fileinto";', "require must come before"),
    ('elsif true { keep; }', "without a preceding if"),
    ('require "frobnicate";', "unsupported extension"),
    ('frob;', "unknown command"),
    ('if frob { keep; }', "unknown test"),
    ('if header :is :contains "a" "b" { keep; }', "two match types"),
    ('if header :comparator "i;nope" "a" "b" { keep; }', "unknown comparator"),
    ('if header "a" { keep; }', "takes 2 argument"),
    ('keep', "expected ';'"),
    ('if true keep;', "needs a block"),
    ('redirect "a" "b";', "takes 1 argument"),
    ('if size :over "x" { keep; }', "needs a number"),
    ('"string";', "unexpected"),
    ('keep; }', "unexpected"),
    ('if true { keep;', "expected '}'"),
])
def test_invalid_scripts_are_refused_with_a_reason(script: str, error: str) -> None:
    with pytest.raises(SieveSyntaxError, match=error):
        compile_script(script)


def test_implicit_keep_when_nothing_is_done() -> None:
    assert execute("").actions == (Keep(implicit=True),)
    assert execute("# just a comment\n/* and another */").actions == (Keep(implicit=True),)


def test_duplicate_deliveries_are_done_once() -> None:
    # 2.10.3: the same mailbox or address twice is one delivery
    script = 'require "fileinto"; fileinto "a"; fileinto "a"; redirect "x@y.example"; redirect "X@y.example";'
    assert execute(script).actions == (FileInto("a"), Redirect("x@y.example"))


def test_message_is_untouched_by_tests() -> None:
    assert execute('if header :contains "subject" "acme" { keep; }', MESSAGE).actions == (Keep(),)
