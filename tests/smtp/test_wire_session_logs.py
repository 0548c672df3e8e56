"""Operations: every SMTP refusal is logged with client, reason and reply, and an IMAP or POP3 session
ends with one summary line (user, duration, commands, bytes in and out). Read from the server's log."""

from __future__ import annotations

import base64
import imaplib
import poplib
import re
import smtplib
from collections.abc import Iterator

import pytest

from tests.smtp.conftest import PASSWORD, MailServer, serving, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServer]:
    services = ("smtp", "submission", "imap", "pop3s", "http")
    yield from serving(start_server(tmp_path_factory.mktemp("logs"), services=services))


def fields(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line)}


def refused(server: MailServer, command: str, reason: str) -> dict[str, str]:
    line = server.process.wait_for_log(rf'msg="refused" .*command={command} .*reason="?{re.escape(reason)}')
    return fields(line)


def submission(server: MailServer, login: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.submission, timeout=10)
    client.starttls(context=server.tls_context())
    client.ehlo()
    if login:
        client.login("bob@example.com", PASSWORD)
    return client


def test_mx_refusals_name_client_reason_and_reply(server: MailServer):
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=10) as client:
        client.ehlo("mail.remote.test")
        client.mail("someone@remote.test")
        assert client.rcpt("victim@elsewhere.test")[0] == 554  # no relaying
        assert client.rcpt("nobody@example.com")[0] == 550
        assert client.docmd("DATA")[0] == 554  # no valid recipient
    relay = refused(server, "RCPT", "relay to elsewhere.test refused: not a domain of ours")
    assert relay["client"] == "127.0.0.1" and relay["recipient"] == "victim@elsewhere.test"
    assert relay["reply"] == "554 5.7.1 Relay access denied" and relay["role"] == "smtp"
    assert refused(server, "RCPT", "No such user here")["reply"].startswith("550 5.1.1")
    assert refused(server, "DATA", "No valid recipients")["reply"].startswith("554 5.5.1")


def test_submission_refusals_name_the_user_and_why(server: MailServer):
    with submission(server, login=False) as client:
        assert client.mail("bob@example.com")[0] == 530
        assert client.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0bob@example.com\0wrong").decode())[0] == 535
    assert refused(server, "MAIL", "submission without logging in")["reply"].startswith("530 5.7.0")
    assert refused(server, "AUTH", "Authentication credentials invalid")["reply"].startswith("535 5.7.8")
    with submission(server) as client:
        assert client.mail("carol@example.com")[0] == 553
        client.rset()
        client.mail("bob@example.com")
        client.rcpt("x@remote.test")
        assert client.data(b"From: carol@example.com\r\nSubject: spoof\r\n\r\nhi\r\n")[0] == 553
    owned = refused(server, "MAIL", "bob@example.com may not use carol@example.com")
    assert owned["user"] == "bob@example.com" and owned["sender"] == "carol@example.com"
    author = refused(server, "DATA", "From: carol@example.com not usable by bob@example.com")
    assert author["reply"] == "553 5.7.1 From:/Sender: address not owned by authenticated user"
    transaction = fields(server.process.wait_for_log(r'msg="transaction" .*result="553 5.7.1"'))
    assert transaction["user"] == "bob@example.com" and transaction["recipients"] == "x@remote.test"


def summary(server: MailServer, msg: str, session_field: str = "session") -> dict[str, str]:
    found = fields(server.process.wait_for_log(rf'msg="{msg}" .*user=bob@example.com'))
    assert float(found["duration"]) >= 0 and int(found["bytes_in"]) > 0 and int(found["bytes_out"]) > 0
    return found


def test_an_imap_session_ends_with_one_summary_line(server: MailServer):
    client = imaplib.IMAP4("127.0.0.1", server.process.port("imap"), timeout=15)
    client.starttls(ssl_context=server.tls_context())
    client.login("bob@example.com", PASSWORD)
    client.select("INBOX")
    client.noop()
    client.logout()  # STARTTLS, LOGIN, SELECT, NOOP, LOGOUT (imaplib asks CAPABILITY first, and again after TLS)
    line = summary(server, "imap session")
    assert line["client"] == "127.0.0.1" and int(line["commands"]) == 7
    assert len([x for x in server.process.lines if 'msg="imap session"' in x]) == 1


def test_a_pop3_session_ends_with_one_summary_line(server: MailServer):
    client = poplib.POP3_SSL("127.0.0.1", server.process.port("pop3s"), context=server.tls_context(), timeout=10)
    client.user("bob@example.com")
    client.pass_(PASSWORD)
    client.stat()
    client.quit()
    line = summary(server, "pop3 session")
    assert int(line["commands"]) == 4 and line["end"]
