"""Shared mailboxes (RFC 4314 ACL, RFC 2342 shared namespace) between users of one domain: a folder
bob shares is seen by the user he grants it to and by nobody else, and each right is enforced on the
command that needs it (SELECT, STORE, EXPUNGE, APPEND, DELETE...) with MYRIGHTS telling which."""

from __future__ import annotations

from tests.imap_wire.conftest import IMAPServer
from tests.imap_wire.raw import RawIMAP

SHARED = "Shared/bob@example.com/Team"


def _client(server: IMAPServer, user: str) -> RawIMAP:
    return RawIMAP(server.imaps, server.tls_context(), user)


def _tagged(client: RawIMAP, command: str) -> bytes:
    return client.command(command)[-1].split(b" ", 1)[1]


def test_a_shared_folder_is_seen_by_the_granted_user_only_with_its_rights(server: IMAPServer):
    bob, carol, dave = (_client(server, f"{name}@example.com") for name in ("bob", "carol", "dave"))
    try:
        for client in (bob, carol):  # no \Recent in the FLAGS below
            assert _tagged(client, "c0 ENABLE IMAP4rev2") == b"OK ENABLE completed"
        assert _tagged(bob, "b1 CREATE Team").startswith(b"OK")
        assert _tagged(bob, "b2 APPEND Team {19+}\r\nSubject: one\r\n\r\n1\r\n").startswith(b"OK [APPENDUID")
        assert _tagged(bob, "b3 SETACL Team carol@example.com lr") == b"OK SETACL completed"
        # carol sees it in the shared namespace; dave does not, and learns nothing of it
        listed = carol.command('c1 LIST "" "Shared/*" RETURN (MYRIGHTS)')
        assert listed[:2] == [b'* LIST (\\HasNoChildren) "/" ' + SHARED.encode(),
                              b"* MYRIGHTS " + SHARED.encode() + b" lr"]
        assert dave.command('d1 LIST "" "Shared/*"') == [b"d1 OK LIST completed"]
        assert _tagged(dave, f"d2 SELECT {SHARED}") == b"NO [NONEXISTENT] No such mailbox"
        assert _tagged(dave, f"d3 MYRIGHTS {SHARED}") == b"NO [NONEXISTENT] No such mailbox"
        # read only: SELECT says so, PERMANENTFLAGS is empty; STORE, EXPUNGE, APPEND, DELETE change nothing
        selected = carol.command(f"c2 SELECT {SHARED}")
        assert selected[-1] == b"c2 OK [READ-ONLY] SELECT completed" and b"* 1 EXISTS" in selected
        assert _tagged(carol, "c3 STORE 1 +FLAGS (\\Flagged)") == b"NO [READ-ONLY] Mailbox is read-only"
        assert _tagged(carol, "c4 EXPUNGE") == b"NO [READ-ONLY] Mailbox is read-only"
        assert _tagged(carol, f"c5 APPEND {SHARED} {{5+}}\r\nx\r\n\r\n") == b"NO [NOPERM] Permission denied"
        assert _tagged(carol, f"c6 DELETE {SHARED}") == b"NO [NOPERM] Permission denied"
        assert _tagged(carol, f"c7 SETACL {SHARED} dave@example.com lr") == b"NO [NOPERM] Permission denied"
        assert carol.command("c8 FETCH 1 BODY[TEXT]")[0].startswith(b"* 1 FETCH (BODY[TEXT]")
        assert carol.command("c9 FETCH 1 FLAGS")[0] == b"* 1 FETCH (FLAGS ())"  # no "s": \Seen not set
        # seen and flag rights: only the flags she may change are stored, PERMANENTFLAGS says which
        assert _tagged(bob, "b4 SETACL Team carol@example.com +s") == b"OK SETACL completed"
        selected = carol.command(f"e1 SELECT {SHARED}")
        assert b"* OK [PERMANENTFLAGS (\\Seen)] Flags permitted" in selected
        assert selected[-1] == b"e1 OK [READ-WRITE] SELECT completed"
        assert carol.command("e2 STORE 1 +FLAGS (\\Seen \\Flagged)")[0] == b"* 1 FETCH (FLAGS (\\Seen))"
        assert _tagged(carol, "e3 STORE 1 +FLAGS (\\Flagged)") == b"NO [NOPERM] Permission denied"
        assert _tagged(carol, "e4 EXPUNGE") == b"NO [NOPERM] Permission denied"
        assert bob.command("b5 EXAMINE Team") and bob.command("b6 FETCH 1 FLAGS")[0] == b"* 1 FETCH (FLAGS (\\Seen))"
        # insert, delete and expunge rights: APPEND works, \Deleted + EXPUNGE work, DELETE works
        assert _tagged(bob, "b7 SETACL Team carol@example.com +itex") == b"OK SETACL completed"
        assert _tagged(carol, f"e5 APPEND {SHARED} (\\Flagged) {{19+}}\r\nSubject: two\r\n\r\n2\r\n").startswith(
            b"OK [APPENDUID")
        # rights are read at SELECT (RFC 4314 5.1.1 allows keeping them until the mailbox is selected again)
        assert carol.command(f"e51 SELECT {SHARED}")[-1] == b"e51 OK [READ-WRITE] SELECT completed"
        assert _tagged(carol, "e6 STORE 1 +FLAGS.SILENT (\\Deleted)") == b"OK STORE completed"
        expunged = carol.command("e7 EXPUNGE")
        assert expunged[-1] == b"e7 OK EXPUNGE completed" and b"* 1 EXPUNGE" in expunged
        assert carol.command("e8 FETCH 1 FLAGS")[0] == b"* 1 FETCH (FLAGS ())"  # no "w": \Flagged not kept
        assert carol.command(f"e9 MYRIGHTS {SHARED}")[0] == b"* MYRIGHTS " + SHARED.encode() + b" lrsixtecd"
        assert _tagged(carol, "f1 UNSELECT").startswith(b"OK")
        assert _tagged(carol, f"f2 DELETE {SHARED}") == b"OK DELETE completed"
        bob.send(b"b8 NOOP\r\n")  # bob had it selected: it is gone, and so is his session
        assert bob.line() == b"* BYE [NONEXISTENT] The selected mailbox was deleted"
        bob.expect_closed("the BYE")
        again = _client(server, "bob@example.com")
        assert again.command('b9 LIST "" Team') == [b"b9 OK LIST completed"]
        again.close()
    finally:
        for client in (bob, carol, dave):
            client.close()


def test_a_shared_folder_can_be_subscribed_and_its_acl_goes_with_it(server: IMAPServer):
    bob, carol = (_client(server, f"{name}@example.com") for name in ("bob", "carol"))
    try:
        assert _tagged(bob, "b1 CREATE Projects").startswith(b"OK")
        assert _tagged(bob, "b2 SETACL Projects anyone lr") == b"OK SETACL completed"
        name = b"Shared/bob@example.com/Projects"
        assert _tagged(carol, "c1 SUBSCRIBE " + name.decode()) == b"OK SUBSCRIBE completed"
        assert carol.command('c2 LSUB "" "Shared/*"')[0] == b'* LSUB (\\HasNoChildren \\Subscribed) "/" ' + name
        assert _tagged(bob, "b3 DELETE Projects") == b"OK DELETE completed"
        assert _tagged(bob, "b4 CREATE Projects").startswith(b"OK")  # a new mailbox: no ACL inherited
        assert carol.command('c3 LIST "" "Shared/*/Projects"') == [b"c3 OK LIST completed"]
    finally:
        bob.close()
        carol.close()
