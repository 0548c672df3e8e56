"""The PostgreSQL schema, as an ordered list of migrations (the same data model as ``sqlite/schema.py``).

``pillarbox_schema.version`` holds the number of migrations applied; each migration runs in its own
transaction under an advisory lock, so nodes starting together migrate once and a crash leaves the
database at a whole version. Never edit a released migration: append one.

Where it differs from SQLite, and why:
- Bodies live in ``messages.body`` (BYTEA, stored out of line uncompressed: mail is mostly base64 already),
  so nodes share nothing but the database. ``blob`` keeps the SHA-256 name (EMAILID, integrity check).
- MODSEQs come from one sequence. A sequence is not transactional, so a writer first locks the mailbox
  row and only then takes its MODSEQ: per mailbox, MODSEQs then grow in commit order, which is what
  CONDSTORE/QRESYNC and the change feed rely on (across mailboxes no order is needed).
- A trigger on ``mailboxes`` sends ``NOTIFY pillarbox_changes, '<mailbox id>:<highestmodseq>'`` on every
  change, delivered at COMMIT to every node's change feed; another on the directory tables sends
  ``pillarbox_directory`` (what SQLite's ``directory`` counter is for).
- The search index is ``message_text`` with pg_trgm GIN indexes: ``LIKE '%needle%'`` on the folded
  text is the same exact substring test as SQLite's FTS5 trigram phrase query, answered from the index.
"""

from __future__ import annotations

import asyncpg

SCHEMA_LOCK = 0x70696C6C6172  # advisory lock key ("pillar") held while migrating
MODSEQ_LOCK = 0x6D6F64736571
"""Advisory lock key ("modseq"): every transaction that draws a MODSEQ holds it shared until it ends
(``pillarbox_next_modseq``), so a reader can tell which drawn MODSEQs may still commit (``modseq_watermark``)."""
MODSEQ_GUARD_LOCK = 0x70696C6C6173  # held while the MODSEQ sequence is moved past the ceiling after a crash

# Group commit (``postgres/batch.py``): a node's concurrent deliveries in one statement, hence one
# transaction, one WAL flush and one NOTIFY. Every mailbox of the batch is locked first, in id order (no
# deadlock with any other writer); then message by message, target by target in call order, each target
# takes its UID and MODSEQ exactly as ``messages.append_entries`` does, or is refused (no such mailbox,
# over quota) without writing anything. The mailbox rows' counters are raised once per mailbox at the end,
# with the per-row change trigger quiet; one pg_notify then names every changed mailbox, ``id:modseq`` separated by
# spaces (payloads of at most ~7,900 bytes each, under PostgreSQL's 8,000). Messages nobody took are deleted again.
DELIVER_BATCH = r"""
CREATE OR REPLACE FUNCTION pillarbox_mailbox_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('pillarbox.batch', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('pillarbox_changes', NEW.id || ':' || NEW.highestmodseq);
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION pillarbox_deliver(
    m_blob TEXT[], m_size BIGINT[], m_subject TEXT[], m_from TEXT[], m_date BIGINT[], m_header_id TEXT[],
    m_structure TEXT[], m_thread_refs TEXT[], m_body BYTEA[], now BIGINT,
    t_message INT[], t_mailbox BIGINT[], t_bits INT[], t_keywords TEXT[], t_internal BIGINT[]
) RETURNS TABLE (uid BIGINT, modseq BIGINT, uidvalidity BIGINT, refusal TEXT) LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[] := '{}';
    new_id BIGINT;
    box RECORD;
    i INT;
    msg_size BIGINT;
    -- per mailbox touched, in arrays of one index: id, account, messages, unseen, deleted, bytes, uidnext, highest
    x_id BIGINT[] := '{}'; x_account BIGINT[] := '{}'; x_messages INT[] := '{}'; x_unseen INT[] := '{}';
    x_deleted INT[] := '{}'; x_size BIGINT[] := '{}'; x_next BIGINT[] := '{}'; x_highest BIGINT[] := '{}';
    used_bytes BIGINT;
    used_count BIGINT;
    payload TEXT := '';
BEGIN
    PERFORM set_config('pillarbox.batch', 'on', true);
    PERFORM 1 FROM mailboxes WHERE id = ANY(t_mailbox) ORDER BY id FOR NO KEY UPDATE;
    FOR n IN 1 .. coalesce(cardinality(m_blob), 0) LOOP
        INSERT INTO messages (blob, size, subject, from_, date, header_message_id, structure, refs, created,
                              thread_refs, body)
        VALUES (m_blob[n], m_size[n], m_subject[n], m_from[n], m_date[n], m_header_id[n], m_structure[n], 0, now,
                m_thread_refs[n], m_body[n]) RETURNING id INTO new_id;
        INSERT INTO unindexed (message_id) VALUES (new_id);
        ids := ids || new_id;
    END LOOP;
    FOR t IN 1 .. coalesce(cardinality(t_mailbox), 0) LOOP
        uid := NULL; modseq := NULL; uidvalidity := NULL; refusal := NULL;
        msg_size := m_size[t_message[t]];
        SELECT b.uidnext, b.uidvalidity, a.quota_bytes, a.quota_messages, a.id AS account
          INTO box FROM mailboxes b JOIN accounts a ON a.id = b.account_id WHERE b.id = t_mailbox[t];
        IF NOT FOUND THEN
            refusal := 'no mailbox';
            RETURN NEXT; CONTINUE;
        END IF;
        i := array_position(x_id, t_mailbox[t]);
        IF box.quota_bytes IS NOT NULL OR box.quota_messages IS NOT NULL THEN
            SELECT coalesce(sum(total_size), 0), coalesce(sum(message_count), 0) INTO used_bytes, used_count
              FROM mailboxes WHERE account_id = box.account;
            SELECT used_bytes + coalesce(sum(s), 0), used_count + coalesce(sum(c), 0) INTO used_bytes, used_count
              FROM unnest(x_account, x_size, x_messages) AS u(a, s, c) WHERE a = box.account;
            IF box.quota_bytes IS NOT NULL AND used_bytes + msg_size > box.quota_bytes THEN
                refusal := 'storage';
            ELSIF box.quota_messages IS NOT NULL AND used_count + 1 > box.quota_messages THEN
                refusal := 'message-count';
            END IF;
            IF refusal IS NOT NULL THEN
                RETURN NEXT; CONTINUE;
            END IF;
        END IF;
        uid := CASE WHEN i IS NULL THEN box.uidnext ELSE x_next[i] END;
        uidvalidity := box.uidvalidity;
        modseq := nextval('modseq');
        INSERT INTO mailbox_messages (mailbox_id, uid, message_id, system_flags, keywords, modseq, internal_date,
                                      save_date)
        VALUES (t_mailbox[t], uid, ids[t_message[t]], t_bits[t], t_keywords[t], modseq, t_internal[t], now);
        UPDATE messages SET refs = refs + 1 WHERE id = ids[t_message[t]];
        IF i IS NULL THEN
            x_id := x_id || t_mailbox[t]; x_account := x_account || box.account::BIGINT;
            x_messages := x_messages || 0; x_unseen := x_unseen || 0; x_deleted := x_deleted || 0;
            x_size := x_size || 0::BIGINT; x_next := x_next || 0::BIGINT; x_highest := x_highest || 0::BIGINT;
            i := cardinality(x_id);
        END IF;
        x_messages[i] := x_messages[i] + 1;
        x_unseen[i] := x_unseen[i] + (t_bits[t] & 1 = 0)::INT;  -- \Seen is bit 1, \Deleted bit 8 (store/flags.py)
        x_deleted[i] := x_deleted[i] + (t_bits[t] & 8 <> 0)::INT;
        x_size[i] := x_size[i] + msg_size;
        x_next[i] := uid + 1;
        x_highest[i] := modseq;
        RETURN NEXT;
    END LOOP;
    UPDATE mailboxes b SET message_count = b.message_count + x.messages, unseen_count = b.unseen_count + x.unseen,
           deleted_count = b.deleted_count + x.deleted, total_size = b.total_size + x.size, uidnext = x.next,
           highestmodseq = greatest(b.highestmodseq, x.highest)
      FROM unnest(x_id, x_messages, x_unseen, x_deleted, x_size, x_next, x_highest)
           AS x(id, messages, unseen, deleted, size, next, highest)
     WHERE b.id = x.id;
    FOR i IN 1 .. cardinality(x_id) LOOP
        IF length(payload) > 7900 THEN
            PERFORM pg_notify('pillarbox_changes', payload);
            payload := '';
        END IF;
        payload := payload || CASE WHEN payload = '' THEN '' ELSE ' ' END || x_id[i] || ':' || x_highest[i];
    END LOOP;
    IF payload <> '' THEN
        PERFORM pg_notify('pillarbox_changes', payload);
    END IF;
    DELETE FROM messages WHERE id = ANY(ids) AND refs = 0;
    PERFORM set_config('pillarbox.batch', 'off', true);
END $$;
"""

def _revised(text: str, *edits: tuple[str, str]) -> str:
    """``text`` with each (old, new) edit made; each old piece must be there (the frozen text is the base)."""
    for old, new in edits:
        if old not in text:
            raise AssertionError(f"not in the base text: {old!r}")
        text = text.replace(old, new)
    return text


# Migration 2's function again, with what the extensions merge stores at delivery: the RFC 5256 base
# subject (and whether the subject marked a reply) of each message, the zone of each INTERNALDATE.
# Derived from the frozen text, so the two differ only where shown.
DELIVER_BATCH_ZONED = "DROP FUNCTION pillarbox_deliver(TEXT[], BIGINT[], TEXT[], TEXT[], BIGINT[], TEXT[], TEXT[]," \
    " TEXT[], BYTEA[], BIGINT, INT[], BIGINT[], INT[], TEXT[], BIGINT[]);" + _revised(
    DELIVER_BATCH,
    ("m_body BYTEA[], now BIGINT,", "m_body BYTEA[], m_base_subject TEXT[], m_subject_reply BOOLEAN[], now BIGINT,"),
    ("t_internal BIGINT[]\n)", "t_internal BIGINT[], t_zone INT[]\n)"),
    ("thread_refs, body)\n", "thread_refs, body, base_subject, subject_reply)\n"),
    ("m_thread_refs[n], m_body[n])", "m_thread_refs[n], m_body[n], m_base_subject[n], m_subject_reply[n])"),
    ("save_date)\n        VALUES (t_mailbox[t]", "save_date, internal_zone)\n        VALUES (t_mailbox[t]"),
    ("t_internal[t], now);", "t_internal[t], now, t_zone[t]);"),
)


# MODSEQs come from one sequence, drawn in one order and committed in another: a reader that took the
# newest committed MODSEQ as its place could skip a lower one committed after. Every draw goes through
# ``pillarbox_next_modseq``, which first takes MODSEQ_LOCK shared for the rest of the transaction; the
# delivery function is migration 6's with that one call changed.
MODSEQ_DRAWS = f"""
CREATE FUNCTION pillarbox_next_modseq() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock_shared({MODSEQ_LOCK});
    SELECT nextval('modseq');
$$;
""" + _revised(
    DELIVER_BATCH_ZONED,
    ("DROP FUNCTION pillarbox_deliver(", "DROP FUNCTION IF EXISTS pillarbox_deliver("),
    ("CREATE FUNCTION pillarbox_deliver(", "CREATE OR REPLACE FUNCTION pillarbox_deliver("),
    ("modseq := nextval('modseq');", "modseq := pillarbox_next_modseq();"),
)


MIGRATIONS: tuple[str, ...] = (
    """
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE SEQUENCE modseq START 2;
    CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
    INSERT INTO counters VALUES ('uidvalidity', 0);
    CREATE TABLE domains (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created BIGINT NOT NULL
    );
    CREATE TABLE accounts (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        address TEXT NOT NULL UNIQUE,
        domain_id BIGINT NOT NULL REFERENCES domains(id),
        password_hash TEXT NOT NULL,
        scram_sha256 TEXT,
        quota_bytes BIGINT,
        quota_messages BIGINT,
        pop3_delete_after_days INTEGER,
        created BIGINT NOT NULL,
        admin BOOLEAN NOT NULL DEFAULT false
    );
    CREATE INDEX accounts_domain ON accounts(domain_id);
    CREATE TABLE alias_targets (
        alias TEXT NOT NULL,
        position INTEGER NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (alias, position)
    );
    CREATE TABLE mailboxes (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id BIGINT NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        uidvalidity BIGINT NOT NULL,
        uidnext BIGINT NOT NULL DEFAULT 1,
        highestmodseq BIGINT NOT NULL,
        special_use TEXT,
        message_count BIGINT NOT NULL DEFAULT 0,
        unseen_count BIGINT NOT NULL DEFAULT 0,
        deleted_count BIGINT NOT NULL DEFAULT 0,
        total_size BIGINT NOT NULL DEFAULT 0,
        recent_uid BIGINT NOT NULL DEFAULT 0,
        UNIQUE (account_id, name)
    );
    CREATE TABLE subscriptions (
        account_id BIGINT NOT NULL REFERENCES accounts(id),
        name TEXT NOT NULL,
        PRIMARY KEY (account_id, name)
    );
    CREATE TABLE messages (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        blob TEXT NOT NULL,
        size BIGINT NOT NULL,
        subject TEXT NOT NULL,
        from_ TEXT NOT NULL,
        date BIGINT,
        header_message_id TEXT,
        structure TEXT NOT NULL,
        thread_refs TEXT,
        refs INTEGER NOT NULL,
        created BIGINT NOT NULL,
        body BYTEA NOT NULL
    );
    ALTER TABLE messages ALTER COLUMN body SET STORAGE EXTERNAL;
    CREATE TABLE mailbox_messages (
        mailbox_id BIGINT NOT NULL,
        uid BIGINT NOT NULL,
        message_id BIGINT NOT NULL REFERENCES messages(id),
        system_flags INTEGER NOT NULL DEFAULT 0,
        keywords TEXT NOT NULL DEFAULT '',
        modseq BIGINT NOT NULL,
        internal_date BIGINT NOT NULL,
        save_date BIGINT NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    );
    CREATE INDEX mailbox_messages_modseq ON mailbox_messages(mailbox_id, modseq);
    CREATE INDEX mailbox_messages_message ON mailbox_messages(message_id);
    CREATE TABLE expunged (
        mailbox_id BIGINT NOT NULL,
        uid BIGINT NOT NULL,
        modseq BIGINT NOT NULL,
        PRIMARY KEY (mailbox_id, uid)
    );
    CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
    CREATE TABLE unindexed (message_id BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE);
    CREATE TABLE message_text (
        message_id BIGINT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        headers TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX message_text_headers ON message_text USING gin (headers gin_trgm_ops);
    CREATE INDEX message_text_body ON message_text USING gin (body gin_trgm_ops);
    CREATE TABLE queue (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        public_id TEXT NOT NULL UNIQUE,
        message_id BIGINT NOT NULL REFERENCES messages(id),
        sender TEXT NOT NULL,
        envid TEXT,
        ret TEXT,
        body TEXT,
        smtputf8 BOOLEAN NOT NULL DEFAULT false,
        auth_user TEXT,
        held BOOLEAN NOT NULL DEFAULT false,
        created BIGINT NOT NULL,
        lease_owner TEXT,
        lease_until BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE queue_recipients (
        queue_id BIGINT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        address TEXT NOT NULL,
        orcpt TEXT,
        notify TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt BIGINT NOT NULL,
        last_error TEXT,
        remote_mta TEXT,
        status TEXT,
        reported TEXT NOT NULL DEFAULT '',
        updated BIGINT,
        PRIMARY KEY (queue_id, position)
    );
    CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt);
    CREATE TABLE dkim_keys (
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        active BOOLEAN NOT NULL DEFAULT true,
        created BIGINT NOT NULL,
        PRIMARY KEY (domain, selector)
    );
    CREATE TABLE mtasts_policies (
        domain TEXT PRIMARY KEY,
        policy_id TEXT NOT NULL,
        policy TEXT NOT NULL,
        fetched BIGINT NOT NULL,
        expires BIGINT NOT NULL
    );
    CREATE TABLE tls_results (
        policy_domain TEXT NOT NULL,
        day TEXT NOT NULL,
        policy_type TEXT NOT NULL,
        mx_host TEXT NOT NULL,
        result TEXT NOT NULL,
        count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (policy_domain, day, policy_type, mx_host, result)
    );
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
        count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (policy_domain, day, source_ip, header_from, envelope_from, spf_domain, spf_result, dkim,
                     dmarc_result, spf_aligned, dkim_aligned, disposition, policy)
    );
    CREATE TABLE login_failures (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ip TEXT NOT NULL,
        account TEXT,
        at DOUBLE PRECISION NOT NULL,
        pending BOOLEAN NOT NULL
    );
    CREATE INDEX login_failures_ip ON login_failures(ip, at);
    CREATE INDEX login_failures_account ON login_failures(account, at);
    CREATE INDEX login_failures_at ON login_failures(at);
    CREATE TABLE login_networks (
        account TEXT NOT NULL,
        network TEXT NOT NULL,
        last_success DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (account, network)
    );
    CREATE INDEX login_networks_last ON login_networks(last_success);
    CREATE TABLE server_secrets (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
    CREATE FUNCTION pillarbox_mailbox_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('pillarbox_changes', NEW.id || ':' || NEW.highestmodseq);
        RETURN NULL;
    END $$;
    CREATE TRIGGER mailboxes_changed AFTER INSERT OR UPDATE OF highestmodseq ON mailboxes
        FOR EACH ROW EXECUTE FUNCTION pillarbox_mailbox_changed();
    CREATE FUNCTION pillarbox_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('pillarbox_directory', '');
        RETURN NULL;
    END $$;
    CREATE TRIGGER domains_directory AFTER INSERT OR UPDATE OR DELETE ON domains
        FOR EACH STATEMENT EXECUTE FUNCTION pillarbox_directory_changed();
    CREATE TRIGGER accounts_directory AFTER INSERT OR UPDATE OR DELETE ON accounts
        FOR EACH STATEMENT EXECUTE FUNCTION pillarbox_directory_changed();
    CREATE TRIGGER alias_targets_directory AFTER INSERT OR UPDATE OR DELETE ON alias_targets
        FOR EACH STATEMENT EXECUTE FUNCTION pillarbox_directory_changed();
    CREATE TABLE pop3_logins (account_id BIGINT PRIMARY KEY, at DOUBLE PRECISION NOT NULL);
    CREATE TABLE daily_jobs (job TEXT NOT NULL, day TEXT NOT NULL, PRIMARY KEY (job, day));
    CREATE TABLE sender_grants (
        account_id BIGINT NOT NULL REFERENCES accounts(id),
        address TEXT NOT NULL,
        PRIMARY KEY (account_id, address)
    );
    CREATE TRIGGER sender_grants_directory AFTER INSERT OR UPDATE OR DELETE ON sender_grants
        FOR EACH STATEMENT EXECUTE FUNCTION pillarbox_directory_changed();
    CREATE TABLE web_sessions (
        id_hash TEXT PRIMARY KEY, account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL, ip TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
        last_seen DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE api_tokens (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, created DOUBLE PRECISION NOT NULL, last_used DOUBLE PRECISION
    );
    CREATE TABLE app_passwords (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, name TEXT NOT NULL,
        password_hash TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, last_used DOUBLE PRECISION
    );
    CREATE INDEX app_passwords_account ON app_passwords(account_id);
    CREATE TABLE login_history (
        account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, protocol TEXT NOT NULL,
        ip TEXT NOT NULL, at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX login_history_account ON login_history(account_id, at);
    CREATE TABLE account_settings (
        account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, name TEXT NOT NULL,
        value TEXT NOT NULL, PRIMARY KEY (account_id, name)
    );
    CREATE TABLE received_reports (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL, reporter TEXT NOT NULL,
        report_id TEXT NOT NULL, domain TEXT NOT NULL, "begin" BIGINT NOT NULL, "end" BIGINT NOT NULL,
        rows TEXT NOT NULL, received DOUBLE PRECISION NOT NULL, UNIQUE (kind, reporter, report_id)
    );
    CREATE TABLE report_cursors (mailbox_id BIGINT PRIMARY KEY, uid BIGINT NOT NULL);
    CREATE TABLE delivery_stats (
        hour BIGINT NOT NULL, domain TEXT NOT NULL, result TEXT NOT NULL, count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (hour, domain, result)
    );
    """,
    DELIVER_BATCH,
    # The outbound queue's size every few minutes (queue/sampler.py); report_cursors goes unused (as in SQLite).
    """
    CREATE TABLE queue_samples (
        at BIGINT PRIMARY KEY, pending BIGINT NOT NULL, held BIGINT NOT NULL, failed BIGINT NOT NULL
    );
    DROP TABLE report_cursors;
    """,
    # Sieve scripts (account_id 0: the admin's global ones) and what "duplicate" and vacation remember.
    """
    CREATE TABLE sieve_scripts (
        account_id BIGINT NOT NULL, name TEXT NOT NULL, content TEXT NOT NULL,
        active BOOLEAN NOT NULL DEFAULT false, PRIMARY KEY (account_id, name)
    );
    CREATE TABLE sieve_tracking (
        account_id BIGINT NOT NULL, key TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (account_id, key)
    );
    CREATE INDEX sieve_tracking_expires ON sieve_tracking(expires);
    """,
    # The extensions merge (SQLite 22-29): INTERNALDATE zones, METADATA (RFC 5464; mailbox 0 is the server,
    # owner 0 the /shared entries), ACLs (RFC 4314), URLAUTH keys (RFC 4467), the best TLS each destination
    # was seen with, the REQUIRETLS/MT-PRIORITY/DELIVERBY queue fields, the stored base subject. Rows of a
    # mailbox or account go with it, as SQLite's triggers do.
    """
    ALTER TABLE mailbox_messages ADD COLUMN internal_zone INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE metadata (
        mailbox_id BIGINT NOT NULL, owner BIGINT NOT NULL, name TEXT NOT NULL, value BYTEA NOT NULL,
        PRIMARY KEY (mailbox_id, owner, name)
    );
    CREATE INDEX metadata_owner ON metadata(owner);
    CREATE TABLE acl (
        mailbox_id BIGINT NOT NULL, identifier TEXT NOT NULL, rights TEXT NOT NULL,
        PRIMARY KEY (mailbox_id, identifier)
    );
    CREATE INDEX acl_identifier ON acl(identifier);
    CREATE TABLE urlauth_keys (mailbox_id BIGINT PRIMARY KEY, key BYTEA NOT NULL);
    CREATE TABLE tls_seen (domain TEXT PRIMARY KEY, level INTEGER NOT NULL, updated BIGINT NOT NULL);
    ALTER TABLE queue ADD COLUMN requiretls BOOLEAN NOT NULL DEFAULT false,
        ADD COLUMN priority INTEGER NOT NULL DEFAULT 0, ADD COLUMN deliver_by BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN by_mode TEXT NOT NULL DEFAULT '';
    ALTER TABLE messages ADD COLUMN base_subject TEXT, ADD COLUMN subject_reply BOOLEAN NOT NULL DEFAULT false;
    CREATE FUNCTION pillarbox_mailbox_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM metadata WHERE mailbox_id = OLD.id;
        DELETE FROM acl WHERE mailbox_id = OLD.id;
        DELETE FROM urlauth_keys WHERE mailbox_id = OLD.id;
        RETURN NULL;
    END $$;
    CREATE TRIGGER mailboxes_deleted AFTER DELETE ON mailboxes
        FOR EACH ROW EXECUTE FUNCTION pillarbox_mailbox_deleted();
    CREATE FUNCTION pillarbox_account_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM metadata WHERE owner = OLD.id;
        DELETE FROM acl WHERE identifier = OLD.address;
        RETURN NULL;
    END $$;
    CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts
        FOR EACH ROW EXECUTE FUNCTION pillarbox_account_deleted();
    """,
    DELIVER_BATCH_ZONED,
    # The antispam merge: the per-user classifier (token counts by class, totals, what each message was
    # trained or filed as), allow/block lists, greylisting, sending counts and per-account sending rules.
    # The learning job starts at the present (older mail is not learned), as on SQLite.
    """
    CREATE TABLE spam_tokens (
        account_id BIGINT NOT NULL, token BIGINT NOT NULL, spam INTEGER NOT NULL DEFAULT 0,
        ham INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (account_id, token)
    );
    CREATE TABLE spam_totals (
        account_id BIGINT PRIMARY KEY, spam INTEGER NOT NULL DEFAULT 0, ham INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE spam_messages (
        account_id BIGINT NOT NULL, message_id BIGINT NOT NULL, filed TEXT, trained TEXT,
        PRIMARY KEY (account_id, message_id)
    );
    CREATE TABLE sender_rules (
        account_id BIGINT NOT NULL, pattern TEXT NOT NULL, action TEXT NOT NULL, source TEXT NOT NULL,
        updated BIGINT NOT NULL, PRIMARY KEY (account_id, pattern)
    );
    CREATE INDEX sender_rules_source ON sender_rules(account_id, source, updated);
    CREATE TABLE greylist (
        triplet TEXT PRIMARY KEY, first_seen BIGINT NOT NULL, passed BIGINT, last_seen BIGINT NOT NULL
    );
    CREATE INDEX greylist_last_seen ON greylist(last_seen);
    CREATE TABLE greylist_clients (network TEXT PRIMARY KEY, passes INTEGER NOT NULL, last_seen BIGINT NOT NULL);
    CREATE TABLE sending_events (
        account_id BIGINT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL, count INTEGER NOT NULL
    );
    CREATE INDEX sending_events_account ON sending_events(account_id, kind, at);
    CREATE INDEX sending_events_at ON sending_events(at);
    CREATE TABLE sending_policies (
        account_id BIGINT PRIMARY KEY, messages_per_hour INTEGER, recipients_per_hour INTEGER,
        held_reason TEXT, held_at BIGINT
    );
    INSERT INTO counters VALUES ('spam_learned', (SELECT coalesce(max(highestmodseq), 0) FROM mailboxes));
    """,
    # Flag changes commit without waiting for the WAL flush (``messages.store_flags``), as on SQLite they
    # ride the next flush, so a crash may lose the last of them, and with them the sequence's advance
    # past their MODSEQs. They only use MODSEQs below 'modseq_ceiling', which is raised by synchronous
    # commits only; the unlogged 'modseq_guard' row is gone after any crash recovery (and on a promoted
    # standby), and then the first connection (``connection.create_pool``'s init) moves the sequence
    # past the ceiling before any MODSEQ is handed out: no MODSEQ a client has seen is handed out again.
    f"""
    INSERT INTO counters VALUES ('modseq_ceiling', 0);
    CREATE UNLOGGED TABLE modseq_guard (armed BOOLEAN PRIMARY KEY);
    INSERT INTO modseq_guard VALUES (true);
    CREATE FUNCTION pillarbox_modseq_guard() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM modseq_guard) THEN
            RETURN;
        END IF;
        PERFORM pg_advisory_xact_lock({MODSEQ_GUARD_LOCK});
        IF NOT EXISTS (SELECT 1 FROM modseq_guard) THEN
            PERFORM setval('modseq', greatest((SELECT last_value FROM modseq),
                                              (SELECT value FROM counters WHERE name = 'modseq_ceiling')));
            INSERT INTO modseq_guard VALUES (true);
        END IF;
    END $$;
    """,
    MODSEQ_DRAWS,
)


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the database to the newest schema; returns the version it is at."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS pillarbox_schema (version INTEGER NOT NULL)")
        version = await conn.fetchval("SELECT version FROM pillarbox_schema")
        if version is None:
            await conn.execute("INSERT INTO pillarbox_schema VALUES (0)")
            version = 0
    if version > len(MIGRATIONS):
        raise RuntimeError(f"database schema version {version} is newer than this Pillarbox ({len(MIGRATIONS)})")
    for number in range(version, len(MIGRATIONS)):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
            # re-read under the lock: another node may have migrated meanwhile
            if await conn.fetchval("SELECT version FROM pillarbox_schema") != number:
                continue
            await conn.execute(MIGRATIONS[number])
            await conn.execute("UPDATE pillarbox_schema SET version = $1", number + 1)
    return len(MIGRATIONS)
