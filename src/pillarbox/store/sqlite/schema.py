"""The SQLite schema, as an ordered list of migrations.

``user_version`` holds the number of migrations applied; each migration runs in its own transaction,
so a crash leaves the database at a whole version. Never edit a released migration: append one.

Design notes that later features lean on:
- ``messages`` is the immutable part (one row per stored copy of bytes, shared by every mailbox that
  holds it); ``mailbox_messages`` is the mutable part (UID, flags, MODSEQ per mailbox).
- MODSEQs come from one global counter, so "which mailboxes changed since N" is one indexed query
  (``mailboxes.highestmodseq > N``), which is how other processes' changes are noticed.
- Expunged UIDs stay in ``expunged`` with the MODSEQ of their expunge: with the ``modseq`` column of
  ``mailbox_messages`` this is the whole change log (CONDSTORE/QRESYNC, IDLE, POP3 all read it).
"""

from __future__ import annotations

import sqlite3

from pillarbox.errors import StoreError

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO counters VALUES ('modseq', 1), ('uidvalidity', 0);
    CREATE TABLE domains (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL
    );
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        address TEXT NOT NULL UNIQUE,
        domain_id INTEGER NOT NULL REFERENCES domains(id),
        password_hash TEXT NOT NULL,
        scram_sha256 TEXT,
        quota_bytes INTEGER,
        quota_messages INTEGER,
        pop3_delete_after_days INTEGER,
        created INTEGER NOT NULL
    );
    CREATE INDEX accounts_domain ON accounts(domain_id);
    CREATE TABLE alias_targets (
        alias TEXT NOT NULL,
        position INTEGER NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (alias, position)
    ) WITHOUT ROWID;
    CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uidnext INTEGER NOT NULL DEFAULT 1,
        highestmodseq INTEGER NOT NULL,
        special_use TEXT,
        subscribed INTEGER NOT NULL DEFAULT 1,
        message_count INTEGER NOT NULL DEFAULT 0,
        unseen_count INTEGER NOT NULL DEFAULT 0,
        deleted_count INTEGER NOT NULL DEFAULT 0,
        total_size INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, name)
    );
    CREATE INDEX mailboxes_modseq ON mailboxes(highestmodseq);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        subject TEXT NOT NULL,
        from_ TEXT NOT NULL,
        date INTEGER,
        header_message_id TEXT,
        structure TEXT NOT NULL,
        refs INTEGER NOT NULL,
        created INTEGER NOT NULL
    );
    CREATE INDEX messages_blob ON messages(blob);
    CREATE TABLE mailbox_messages (
        mailbox_id INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        message_id INTEGER NOT NULL REFERENCES messages(id),
        system_flags INTEGER NOT NULL DEFAULT 0,
        keywords TEXT NOT NULL DEFAULT '',
        modseq INTEGER NOT NULL,
        internal_date INTEGER NOT NULL,
        save_date INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    ) WITHOUT ROWID;
    CREATE INDEX mailbox_messages_modseq ON mailbox_messages(mailbox_id, modseq);
    CREATE INDEX mailbox_messages_message ON mailbox_messages(message_id);
    CREATE TABLE expunged (
        mailbox_id INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        modseq INTEGER NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    ) WITHOUT ROWID;
    CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
    CREATE VIRTUAL TABLE message_text USING fts5(headers, body, tokenize = 'trigram');
    """,
    # 2: the outbound queue. A queued message holds one reference on its ``messages`` row.
    """
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id),
        sender TEXT NOT NULL,
        envid TEXT,
        ret TEXT,
        body TEXT,
        smtputf8 INTEGER NOT NULL DEFAULT 0,
        auth_user TEXT,
        held INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL
    );
    CREATE TABLE queue_recipients (
        queue_id INTEGER NOT NULL REFERENCES queue(id),
        position INTEGER NOT NULL,
        address TEXT NOT NULL,
        orcpt TEXT,
        notify TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error TEXT,
        PRIMARY KEY (queue_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt);
    """,
    # 3: outbound delivery. A lease on each queue entry (who works on it, until when); per recipient the
    # remote MTA, enhanced status and which DSN actions were already reported; DKIM keys per domain;
    # the MTA-STS policy cache and TLS-RPT result counters.
    """
    ALTER TABLE queue ADD COLUMN lease_owner TEXT;
    ALTER TABLE queue ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE queue_recipients ADD COLUMN remote_mta TEXT;
    ALTER TABLE queue_recipients ADD COLUMN status TEXT;
    ALTER TABLE queue_recipients ADD COLUMN reported TEXT NOT NULL DEFAULT '';
    ALTER TABLE queue_recipients ADD COLUMN updated INTEGER;
    CREATE TABLE dkim_keys (
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        created INTEGER NOT NULL,
        PRIMARY KEY (domain, selector)
    ) WITHOUT ROWID;
    CREATE TABLE mtasts_policies (
        domain TEXT PRIMARY KEY,
        policy_id TEXT NOT NULL,
        policy TEXT NOT NULL,
        fetched INTEGER NOT NULL,
        expires INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE tls_results (
        policy_domain TEXT NOT NULL,
        day TEXT NOT NULL,
        policy_type TEXT NOT NULL,
        mx_host TEXT NOT NULL,
        result TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (policy_domain, day, policy_type, mx_host, result)
    ) WITHOUT ROWID;
    """,
    # (policy) DMARC aggregate-report data: counted observations per policy domain, day, source and outcome.
    """
    CREATE TABLE dmarc_observations (
        policy_domain TEXT NOT NULL,
        day TEXT NOT NULL,
        source_ip TEXT NOT NULL,
        header_from TEXT NOT NULL,
        envelope_from TEXT NOT NULL,
        spf_domain TEXT NOT NULL,
        spf_result TEXT NOT NULL,
        dkim TEXT NOT NULL,
        dmarc_result TEXT NOT NULL,
        spf_aligned INTEGER NOT NULL,
        dkim_aligned INTEGER NOT NULL,
        disposition TEXT NOT NULL,
        policy TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (policy_domain, day, source_ip, header_from, envelope_from, spf_domain, spf_result, dkim,
                     dmarc_result, spf_aligned, dkim_aligned, disposition, policy)
    ) WITHOUT ROWID;
    """,
    # (imap) THREAD=REFERENCES without decoding each stored structure: the message's References (or its
    # In-Reply-To when it has none), space-separated, as parsed at delivery; NULL for older rows.
    """
    ALTER TABLE messages ADD COLUMN thread_refs TEXT;
    """,
    # (store) Small bodies live in the database (a message without a row here is in the blob file named
    # by messages.blob), so a batch of small messages is made durable by the WAL commit alone, one flush
    # instead of syncfs + commit. A table of their own keeps messages rows small for the scans over them.
    """
    CREATE TABLE message_bodies (message_id INTEGER PRIMARY KEY, body BLOB NOT NULL);
    """,
    # (auth) A version number of the directory (domains, accounts, aliases), raised by a trigger on every
    # change from any process, so a resolver can keep answers in memory and drop them the moment it moves.
    "INSERT INTO counters VALUES ('directory', 0);" + "".join(
        f"CREATE TRIGGER {table}_{event.lower()}_directory AFTER {event} ON {table}"
        " BEGIN UPDATE counters SET value = value + 1 WHERE name = 'directory'; END;"
        for table in ("domains", "accounts", "alias_targets") for event in ("INSERT", "UPDATE", "DELETE")
    ),
    # (imap) Subscriptions are names, not a property of a mailbox (RFC 9051 6.3.7): deleting a mailbox
    # keeps its subscription, and LIST (SUBSCRIBED) shows such a name as \NonExistent.
    """
    CREATE TABLE subscriptions (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        PRIMARY KEY (account_id, name)
    ) WITHOUT ROWID;
    INSERT INTO subscriptions (account_id, name) SELECT account_id, name FROM mailboxes WHERE subscribed = 1;
    ALTER TABLE mailboxes DROP COLUMN subscribed;
    """,
    # (store) Full-text indexing happens after delivery, off the commit path (store/indexer.py): the
    # stored messages whose text is not in message_text yet. Every message stored before this is indexed.
    """
    CREATE TABLE unindexed (message_id INTEGER PRIMARY KEY);
    """,
    # (auth) Failed logins, so the login throttle counts those of every server process (workers), and
    # a restart forgives nothing (store/sqlite/logins.py).
    """
    CREATE TABLE login_failures (kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX login_failures_key ON login_failures(kind, key, at);
    CREATE INDEX login_failures_at ON login_failures(at);
    """,
    # (queue) One id per message from the SMTP reply to the last log line (records.new_queue_id); the
    # rowid stays the key the recipients point at. Entries queued before get a random 12-hex-digit id.
    """
    ALTER TABLE queue ADD COLUMN public_id TEXT;
    UPDATE queue SET public_id = lower(hex(randomblob(6)));
    CREATE UNIQUE INDEX queue_public_id ON queue(public_id);
    """,
    # (senders) Addresses an account may send as beyond its own and its aliases' (``pillarbox user grant``):
    # an address, or "@domain" for all of a domain. Part of the directory, so changes move its version.
    """
    CREATE TABLE sender_grants (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        address TEXT NOT NULL,
        PRIMARY KEY (account_id, address)
    ) WITHOUT ROWID;
    """ + "".join(
        f"CREATE TRIGGER sender_grants_{event.lower()}_directory AFTER {event} ON sender_grants"
        " BEGIN UPDATE counters SET value = value + 1 WHERE name = 'directory'; END;"
        for event in ("INSERT", "DELETE")
    ),
    # (postmaster) postmaster@ used to fall back, unseen, to the domain's first user (else the server's);
    # the resolver has no such rule now (admin/postmaster.py), so write it down as aliases where an
    # install relied on it: where postmaster@ had no account, alias or catch-all. abuse@ (RFC 2142),
    # where nothing took it either, goes to postmaster@ from now on.
    """
    INSERT INTO alias_targets (alias, position, target)
    SELECT 'postmaster@' || d.name, 0, coalesce(
        (SELECT a.address FROM accounts a WHERE a.domain_id = d.id ORDER BY a.created, a.id LIMIT 1),
        (SELECT a.address FROM accounts a ORDER BY a.created, a.id LIMIT 1))
    FROM domains d
    WHERE EXISTS (SELECT 1 FROM accounts)
      AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.address = 'postmaster@' || d.name)
      AND NOT EXISTS (SELECT 1 FROM alias_targets t WHERE t.alias IN ('postmaster@' || d.name, '@' || d.name));
    INSERT INTO alias_targets (alias, position, target)
    SELECT 'abuse@' || d.name, 0, 'postmaster@' || d.name
    FROM domains d
    WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.address = 'abuse@' || d.name)
      AND NOT EXISTS (SELECT 1 FROM alias_targets t WHERE t.alias IN ('abuse@' || d.name, '@' || d.name))
      AND (EXISTS (SELECT 1 FROM accounts a WHERE a.address = 'postmaster@' || d.name)
           OR EXISTS (SELECT 1 FROM alias_targets t WHERE t.alias = 'postmaster@' || d.name));
    """,
    # (imap) \Recent (RFC 3501 2.3.2): the messages above a mailbox's recent_uid have not been claimed
    # by a read-write session yet; the first one told of them claims them by raising the mark. Mail
    # stored before this is old. Message ids come from a counter, never from SQLite's max(rowid) + 1,
    # which hands the id of an expunged newest message to the next one (a session that still shows the
    # expunged message would read the new one's bytes by that id).
    """
    ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
    UPDATE mailboxes SET recent_uid = uidnext - 1;
    INSERT INTO counters VALUES ('message_id', (SELECT coalesce(max(id), 0) FROM messages));
    """,
    # (store) The full-text index at a fifth of its size (store/sqlite/fulltext.py, store/searchterms.py):
    # the trigram index weighed 3-4 times the mail. Every message goes back to the indexer's backlog.
    """
    DROP TABLE message_text;
    CREATE TABLE message_text (message_id INTEGER PRIMARY KEY, headers BLOB NOT NULL, body BLOB NOT NULL);
    CREATE VIRTUAL TABLE message_words USING fts5(
        headers, body, tokenize = 'ascii', content = '', columnsize = 0);
    CREATE TABLE search_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;
    INSERT OR IGNORE INTO unindexed (message_id) SELECT id FROM messages;
    """,
    # (quickstart) An account may administer the server (the web admin pages); nobody could before.
    """
    ALTER TABLE accounts ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    """,
    # (web) Web logins and API tokens (hashes only), app passwords (one per device, for IMAP/POP3/SMTP),
    # the logins of each account (protocol, IP) for its account page, per-account settings (forwarding,
    # vacation, "main password for the web only"), DMARC/TLS-RPT reports received from other domains,
    # and delivery outcomes per destination domain and hour (the dashboard's trends). An account's
    # rows go with it.
    """
    CREATE TABLE web_sessions (
        id_hash TEXT PRIMARY KEY, account_id INTEGER NOT NULL, csrf TEXT NOT NULL, ip TEXT NOT NULL,
        created REAL NOT NULL, last_seen REAL NOT NULL, expires REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
        created REAL NOT NULL, last_used REAL
    );
    CREATE TABLE app_passwords (
        id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, name TEXT NOT NULL, password_hash TEXT NOT NULL,
        created REAL NOT NULL, last_used REAL
    );
    CREATE INDEX app_passwords_account ON app_passwords(account_id);
    CREATE TABLE login_history (account_id INTEGER NOT NULL, protocol TEXT NOT NULL, ip TEXT NOT NULL,
                                at REAL NOT NULL);
    CREATE INDEX login_history_account ON login_history(account_id, at);
    CREATE TABLE account_settings (
        account_id INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (account_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE received_reports (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, reporter TEXT NOT NULL, report_id TEXT NOT NULL,
        domain TEXT NOT NULL, begin INTEGER NOT NULL, end INTEGER NOT NULL, rows TEXT NOT NULL,
        received REAL NOT NULL, UNIQUE (kind, reporter, report_id)
    );
    CREATE TABLE report_cursors (mailbox_id INTEGER PRIMARY KEY, uid INTEGER NOT NULL);
    CREATE TABLE delivery_stats (
        hour INTEGER NOT NULL, domain TEXT NOT NULL, result TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, domain, result)
    ) WITHOUT ROWID;
    CREATE TRIGGER accounts_delete_web AFTER DELETE ON accounts BEGIN
        DELETE FROM web_sessions WHERE account_id = old.id;
        DELETE FROM api_tokens WHERE account_id = old.id;
        DELETE FROM app_passwords WHERE account_id = old.id;
        DELETE FROM login_history WHERE account_id = old.id;
        DELETE FROM account_settings WHERE account_id = old.id;
    END;
    """,
    # (auth) One row per failed login attempt, written (pending) before the password is checked, so
    # parallel attempts count at once, and deleted if it succeeds; the networks each account logged in from
    # (accounts under attack keep working from them); server secrets made on first use. The failures
    # of the last 15 minutes are forgotten once, at this upgrade.
    """
    DROP TABLE login_failures;
    CREATE TABLE login_failures (
        id INTEGER PRIMARY KEY,
        ip TEXT NOT NULL,
        account TEXT,
        at REAL NOT NULL,
        pending INTEGER NOT NULL
    );
    CREATE INDEX login_failures_ip ON login_failures(ip, at);
    CREATE INDEX login_failures_account ON login_failures(account, at);
    CREATE INDEX login_failures_at ON login_failures(at);
    CREATE TABLE login_networks (
        account TEXT NOT NULL,
        network TEXT NOT NULL,
        last_success REAL NOT NULL,
        PRIMARY KEY (account, network)
    ) WITHOUT ROWID;
    CREATE INDEX login_networks_last ON login_networks(last_success);
    CREATE TABLE server_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    """,
    # (web) The outbound queue's size every few minutes (queue/sampler.py), for the dashboard's chart, a
    # week kept. report_cursors goes unused: reports from other domains are read at delivery
    # (policy/received), not by walking a mailbox.
    """
    CREATE TABLE queue_samples (
        at INTEGER PRIMARY KEY, pending INTEGER NOT NULL, held INTEGER NOT NULL, failed INTEGER NOT NULL
    );
    DROP TABLE report_cursors;
    """,
    # (sieve) Sieve scripts (account_id 0: the admin's global ones), at most one active per account, and
    # what "duplicate" and vacation remember (a key per account until it expires). The SRS key is one of
    # the auth migration's server_secrets.
    """
    CREATE TABLE sieve_scripts (
        account_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        content TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, name)
    ) WITHOUT ROWID;
    CREATE TABLE sieve_tracking (
        account_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        expires REAL NOT NULL,
        PRIMARY KEY (account_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX sieve_tracking_expires ON sieve_tracking(expires);
    """,
    # (imap) The zone a client gave APPEND for INTERNALDATE, in minutes east of UTC (RFC 9051 2.3.3: the
    # date-time is sent back as given); internal_date stays the instant in Unix seconds. 0 for the rest.
    """
    ALTER TABLE mailbox_messages ADD COLUMN internal_zone INTEGER NOT NULL DEFAULT 0;
    """,
    # (imap) METADATA annotations (RFC 5464): of a mailbox, or of the server (mailbox_id 0); /shared entries
    # have owner 0, /private ones the account's id. Names are lower-case (entry names are case-insensitive,
    # 3.2). They go with their mailbox (4.1 SHOULD) and their owner.
    """
    CREATE TABLE metadata (
        mailbox_id INTEGER NOT NULL,
        owner INTEGER NOT NULL,
        name TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (mailbox_id, owner, name)
    ) WITHOUT ROWID;
    CREATE INDEX metadata_owner ON metadata(owner);
    CREATE TRIGGER mailboxes_delete_metadata AFTER DELETE ON mailboxes BEGIN
        DELETE FROM metadata WHERE mailbox_id = old.id;
    END;
    CREATE TRIGGER accounts_delete_metadata AFTER DELETE ON accounts BEGIN
        DELETE FROM metadata WHERE owner = old.id;
    END;
    """,
    # (imap) Access control lists (RFC 4314) of shared mailboxes: the rights an identifier (an account's
    # address, or "anyone" of the owner's domain) has on a mailbox of another account; the owner's own
    # rights are implicit. They go with the mailbox, and with a grantee account.
    """
    CREATE TABLE acl (
        mailbox_id INTEGER NOT NULL,
        identifier TEXT NOT NULL,
        rights TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, identifier)
    ) WITHOUT ROWID;
    CREATE INDEX acl_identifier ON acl(identifier);
    CREATE TRIGGER mailboxes_delete_acl AFTER DELETE ON mailboxes BEGIN
        DELETE FROM acl WHERE mailbox_id = old.id;
    END;
    CREATE TRIGGER accounts_delete_acl AFTER DELETE ON accounts BEGIN
        DELETE FROM acl WHERE identifier = old.address;
    END;
    """,
    # (outbound) RFC 8689 REQUIRETLS: the message goes out only over validated TLS to a server that
    # advertises REQUIRETLS, and is bounced otherwise.
    """
    ALTER TABLE queue ADD COLUMN requiretls INTEGER NOT NULL DEFAULT 0;
    """,
    # (outbound) The best TLS each destination domain was seen with (0 none, 1 unverified, 2 verified), so
    # that a later path offering less (STARTTLS stripped, a bad certificate) is not taken
    # (outbound/tls_memory.py); ``pillarbox tls forget`` deletes a row.
    """
    CREATE TABLE tls_seen (domain TEXT PRIMARY KEY, level INTEGER NOT NULL, updated INTEGER NOT NULL) WITHOUT ROWID;
    """,
    # (queue) RFC 6710 MT-PRIORITY: due entries are leased highest priority first.
    """
    ALTER TABLE queue ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    """,
    # (imap) RFC 4467 URLAUTH: each mailbox's access key, made on first use; RESETKEY replaces it (every URL
    # authorized with the old one stops working). Gone with the mailbox.
    """
    CREATE TABLE urlauth_keys (mailbox_id INTEGER PRIMARY KEY, key BLOB NOT NULL);
    CREATE TRIGGER mailboxes_delete_urlauth AFTER DELETE ON mailboxes BEGIN
        DELETE FROM urlauth_keys WHERE mailbox_id = old.id;
    END;
    """,
    # (queue) RFC 2852 DELIVERBY: the time the message must be delivered by (0: none) and the by-mode.
    """
    ALTER TABLE queue ADD COLUMN deliver_by INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE queue ADD COLUMN by_mode TEXT NOT NULL DEFAULT '';
    """,
    # (imap) The RFC 5256 2.1 base subject of each message (i;unicode-casemap form) and whether its subject
    # marked a reply or forward, computed at delivery (mime/subject.py) so that SORT (SUBJECT) and THREAD
    # compare stored keys; NULL for messages stored before, whose base subject is computed when read.
    """
    ALTER TABLE messages ADD COLUMN base_subject TEXT;
    ALTER TABLE messages ADD COLUMN subject_reply INTEGER NOT NULL DEFAULT 0;
    """,
    # (antispam) The per-user classifier (token counts by class, totals, what each message was trained
    # as or filed as), allow/block lists, greylisting state, sending counts and per-account sending rules.
    # The learning job's place in the change log starts at the present: older mail is not learned.
    """
    CREATE TABLE spam_tokens (
        account_id INTEGER NOT NULL,
        token INTEGER NOT NULL,
        spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (account_id, token)
    ) WITHOUT ROWID;
    CREATE TABLE spam_totals (
        account_id INTEGER PRIMARY KEY,
        spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE spam_messages (
        account_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        filed TEXT,
        trained TEXT,
        PRIMARY KEY (account_id, message_id)
    ) WITHOUT ROWID;
    CREATE TABLE sender_rules (
        account_id INTEGER NOT NULL,
        pattern TEXT NOT NULL,
        action TEXT NOT NULL,
        source TEXT NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (account_id, pattern)
    ) WITHOUT ROWID;
    CREATE INDEX sender_rules_source ON sender_rules(account_id, source, updated);
    CREATE TABLE greylist (
        triplet TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        passed INTEGER,
        last_seen INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX greylist_last_seen ON greylist(last_seen);
    CREATE TABLE greylist_clients (
        network TEXT PRIMARY KEY,
        passes INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE sending_events (account_id INTEGER NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL,
                                 count INTEGER NOT NULL);
    CREATE INDEX sending_events_account ON sending_events(account_id, kind, at);
    CREATE INDEX sending_events_at ON sending_events(at);
    CREATE TABLE sending_policies (
        account_id INTEGER PRIMARY KEY,
        messages_per_hour INTEGER,
        recipients_per_hour INTEGER,
        held_reason TEXT,
        held_at INTEGER
    );
    INSERT INTO counters VALUES ('spam_learned', (SELECT value FROM counters WHERE name = 'modseq'));
    """,
    # (store) Daily jobs (DMARC and TLS-RPT reports) claimed per day, so they run once per store.
    """
    CREATE TABLE daily_jobs (job TEXT NOT NULL, day TEXT NOT NULL, PRIMARY KEY (job, day)) WITHOUT ROWID;
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest schema; returns the version it is at."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        # An older binary must not write into a newer store (it would not know what its rows mean).
        raise StoreError(
            f"the store's schema version {version} is newer than this Pillarbox knows ({len(MIGRATIONS)}):"
            " it was written by a newer version; run that version (or restore a backup made by this one)"
        )
    _repair_edited_history(conn, version)
    for number in range(version, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # re-read under the write lock: another process may have migrated meanwhile
            if conn.execute("PRAGMA user_version").fetchone()[0] != number:
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _repair_edited_history(conn: sqlite3.Connection, version: int) -> None:
    """Migration 6 was edited after a release (tests/upgrade keeps that release's data_dir): it first
    kept small bodies in a ``messages.body`` column, then in ``message_bodies``. A store made by the
    first form is at version 6 or later without that table; move its bodies where they live now."""
    def missing() -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'message_bodies'").fetchone() is None

    if version < 6 or not missing():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if missing():  # again under the write lock: another process may have repaired it meanwhile
            conn.execute("CREATE TABLE message_bodies (message_id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            conn.execute("INSERT INTO message_bodies SELECT id, body FROM messages WHERE body IS NOT NULL")
            conn.execute("ALTER TABLE messages DROP COLUMN body")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a script at the semicolons that end statements (not those inside a trigger's body)."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
