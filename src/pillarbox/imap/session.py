"""One IMAP session: framed commands in, the state machine of RFC 9051 3, responses out.

The framer (sans-IO) turns bytes into whole commands; the parser turns a command into a typed value;
this module checks the command is allowed in the current state (a table: command → states), runs
its handler, then reports what other sessions changed in the selected mailbox (the view reads the
store's change log) before the tagged completion — never EXPUNGE during FETCH, STORE or SEARCH.
Once QRESYNC is enabled, expunges are reported as VANISHED (RFC 7162 3.2.10), and once CONDSTORE
is enabled, flag updates carry MODSEQ (3.1.4.1).

The commands that turn the conversation around (STARTTLS, AUTHENTICATE, IDLE, COMPRESS) live in
``turnaround``; when COMPRESS=DEFLATE is active, ``on_data`` inflates and ``flush`` deflates.

Before login a stranger may send only small literals (``PRE_LOGIN_MAX_LITERAL``, and LITERAL- is
announced instead of LITERAL+: RFC 7888 5); after it, a literal the framer does not keep (an APPEND
of a large message) goes to a spool file as it arrives and is read back, within the process's memory
budget, when its command is complete (``net/spool.py``).
"""

from __future__ import annotations

import asyncio
import enum
import secrets
import ssl
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pillarbox.auth import sasl
from pillarbox.auth.authenticator import Authenticator
from pillarbox.errors import NotFound, ProtocolError, StorageFull, StoreUnavailable
from pillarbox.imap import fetch, framing, recent, turnaround
from pillarbox.imap import response as r
from pillarbox.imap.answer_cache import AnswerCache
from pillarbox.imap.parser import parse_command
from pillarbox.imap.parser.commands import Command, Fetch, MultiSearch, Replace, Search
from pillarbox.imap.parser.commands import Store as StoreCommand
from pillarbox.imap.rights import EXTRA as EXTRA_RIGHTS
from pillarbox.imap.rights import RIGHTS, settable
from pillarbox.imap.selected import SelectedMailbox
from pillarbox.imap.snapshot import SnapshotCache
from pillarbox.net.listener import Connection
from pillarbox.net.shell import DEFAULT_MIN_RATE, DEFAULT_TRANSFER_TIMEOUT, Deadlines, Phase
from pillarbox.net.spool import Spool, SpoolArea, SpoolError
from pillarbox.net.tls import TLSContextHolder
from pillarbox.obs import Counter, SessionTally, get_logger, log_event
from pillarbox.store.api import Store
from pillarbox.store.records import Account
from pillarbox.store.reserve import is_disk_full

if TYPE_CHECKING:
    from pillarbox.imap.contexts import UpdateContext
    from pillarbox.imap.notify import Watch

log = get_logger("imap")
SESSIONS = Counter("pillarbox_imap_sessions_total", "IMAP sessions started", ("tls",))
COMMANDS = Counter("pillarbox_imap_commands_total", "IMAP commands by name and status", ("command", "status"))
PRE_AUTH_TIMEOUT = 60.0
PRE_LOGIN_MAX_LITERAL = framing.LITERAL_MINUS_MAX  # a password or an ID value needs no more
PRE_LOGIN_MAX_COMMAND = 16 * 1024  # the literals of one command, before login
PROGRESS_INTERVAL = 10.0
NO_PROGRESS = frozenset({"STARTTLS", "AUTHENTICATE", "LOGIN", "IDLE", "COMPRESS", "LOGOUT"})
"""Commands that turn the conversation around or end it: nothing may be written while they run."""


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


EXTENSIONS = (
    "ESEARCH",
    "MULTISEARCH",
    "SEARCHRES",
    "BINARY",
    "STATUS=SIZE",
    "CONDSTORE",
    "QRESYNC",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "CONTEXT=SEARCH",
    "CONTEXT=SORT",
    "METADATA",
    "METADATA-SERVER",
    "LIST-METADATA",
    "PARTIAL",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "WITHIN",
    "MULTIAPPEND",
    "CATENATE",
    "URLAUTH",
    "REPLACE",
    "UTF8=ACCEPT",
    "COMPRESS=DEFLATE",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "OBJECTID",
    "SAVEDATE",
    "PREVIEW",
)
"""Advertised after login; each one has its transcript test (tests/imap_wire/transcripts)."""
ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})
Handler = Callable[["IMAPSession", Any], Awaitable[r.TaggedReply]]


@dataclass(frozen=True)
class IMAPSettings:
    hostname: str
    timeout: float
    max_literal: int
    max_command_errors: int
    login_timeout: float = PRE_AUTH_TIMEOUT
    transfer_timeout: float = DEFAULT_TRANSFER_TIMEOUT
    min_transfer_rate: float = DEFAULT_MIN_RATE
    metadata_max_size: int = 64 * 1024
    """The largest METADATA value SETMETADATA takes (RFC 5464 4.3 [METADATA MAXSIZE])."""
    metadata_max_entries: int = 100
    """Entries of one owner on one mailbox, or of a user on the server ([METADATA TOOMANY])."""
    progress_interval: float = PROGRESS_INTERVAL
    """A command still running after this many seconds tells the client so (RFC 9585), and again
    after each further interval."""

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(self.timeout, self.transfer_timeout, self.min_transfer_rate)


@dataclass(frozen=True)
class IMAPServices:
    settings: IMAPSettings
    store: Store
    authenticator: Authenticator
    tls: TLSContextHolder
    structures: fetch.StructureCache = field(default_factory=fetch.StructureCache)
    """Stored messages never change: one cache of decoded structures for every session of the server."""
    snapshots: SnapshotCache = field(default_factory=SnapshotCache)
    """The newest snapshot of recently selected mailboxes, shared by the sessions that select them."""
    answers: AnswerCache = field(default_factory=AnswerCache)
    """The last SORT and THREAD answers over big mailboxes, shared by every session of the server."""
    spool: SpoolArea | None = None
    """Where large literals wait for their command; None keeps them in memory (tools, tests)."""


class IMAPSession:
    def __init__(self, conn: Connection, services: IMAPServices, implicit_tls: bool) -> None:
        from pillarbox.imap import contexts, notify  # they and the commands import this module's types
        from pillarbox.imap.commands import TABLE

        self.conn = conn
        self.services = services
        self.store = services.store
        self.settings = services.settings
        self.table = TABLE
        self.framer = framing.CommandFramer(
            max_literal=PRE_LOGIN_MAX_LITERAL, max_command=PRE_LOGIN_MAX_COMMAND, literal_minus=True,
            max_in_memory=framing.DEFAULT_MAX_IN_MEMORY if services.spool else framing.DEFAULT_MAX_COMMAND,
        )
        self.literals: Spool | None = None  # the large literals of the command being framed
        self.state = State.NOT_AUTHENTICATED
        self.closed = False
        self.session_id = secrets.token_hex(6)
        self.tally = SessionTally()
        self.user: Account | None = None
        self.selected: SelectedMailbox | None = None
        self.selected_name = ""
        """The selected mailbox as this user names it (a shared one: ``Shared/owner/name``)."""
        self.rights = RIGHTS
        """This user's rights on the selected mailbox (RFC 4314; all on its own)."""
        self.enabled: set[str] = set()
        self.saved_search: list[int] = []
        self.contexts: dict[str, UpdateContext] = {}
        """Searches kept current by tag (RFC 5267 4.3), while the mailbox stays selected."""
        self.updating = contexts
        self.errors = 0
        self._out: list[bytes] = []
        self._write_lock = asyncio.Lock()
        self.sasl: turnaround.SaslTurn | None = None
        self.idle_task: turnaround.IdleTurn | None = None
        self.deflate: turnaround.Deflate | None = None
        self.implicit_tls = implicit_tls
        self.notify: Watch | None = None
        self.notifying = notify
        self.busy = asyncio.Lock()
        """Held while a command runs, and by NOTIFY's watch while it writes between commands."""
        self._commanding: asyncio.Task[Any] | None = None

    # -- state --------------------------------------------------------------------------------------

    @property
    def idle_timeout(self) -> float:
        return self.settings.login_timeout if self.user is None else self.settings.timeout

    @property
    def phase(self) -> Phase:
        """Where the peer is in its input, for its deadline (``net/shell.py``)."""
        if self.framer.receiving_literal:
            return Phase.TRANSFER
        return Phase.COMMAND if self.framer.partial_input else Phase.IDLE

    @property
    def utf8(self) -> bool:
        return "UTF8=ACCEPT" in self.enabled

    @property
    def utf8_names(self) -> bool:
        """UTF-8 mailbox names and quoted strings: with UTF8=ACCEPT, and always in IMAP4rev2 (RFC 9051 5.1)."""
        return self.utf8 or self.rev2

    @property
    def rev2(self) -> bool:
        return "IMAP4REV2" in self.enabled

    @property
    def condstore(self) -> bool:
        """RFC 7162 3.1: CONDSTORE is on once any CONDSTORE-enabling command was seen (QRESYNC too)."""
        return "CONDSTORE" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    def capabilities(self) -> list[str]:
        literal = "LITERAL-" if self.framer.literal_minus else "LITERAL+"  # never both (RFC 7888 5)
        caps = ["IMAP4rev1", "IMAP4rev2", literal, "SASL-IR", "ID", "ENABLE", "IDLE"]
        if self.state is State.NOT_AUTHENTICATED:
            if self.conn.is_tls:
                caps += [f"AUTH={name}" for name in sasl.mechanisms_for(tls=True)]
            else:
                caps += ["STARTTLS", "LOGINDISABLED"]
            return caps
        return [
            *caps,
            "NAMESPACE",
            "UNAUTHENTICATE",
            "INPROGRESS",
            "NOTIFY",
            "UIDPLUS",
            "MOVE",
            "UNSELECT",
            "CHILDREN",
            "SPECIAL-USE",
            "CREATE-SPECIAL-USE",
            "ACL",
            f"RIGHTS={EXTRA_RIGHTS}",
            "LIST-MYRIGHTS",
            "LIST-EXTENDED",
            "LIST-STATUS",
            *EXTENSIONS,
            f"APPENDLIMIT={self.settings.max_literal}",
        ]

    def select(self, view: SelectedMailbox | None, name: str = "", rights: str = RIGHTS) -> None:
        self.selected, self.selected_name, self.rights = view, name, rights
        self.saved_search = []
        self.contexts = {}  # RFC 5267 4.3: updates cease when the mailbox is no longer selected
        self.state = State.SELECTED if view is not None else State.AUTHENTICATED

    def logout_user(self) -> None:
        """RFC 8437 3: back to the not authenticated state with nothing of the user's session kept
        (selected mailbox, enabled extensions, saved search: 4.1) but the TLS layer; a stranger's
        limits again, for literals and for the time to send a command."""
        self.user = None
        self.select(None)
        self.enabled.clear()
        self.notifying.stop(self)  # RFC 8437 4.1
        self.state = State.NOT_AUTHENTICATED
        self.framer.max_literal, self.framer.literal_minus = PRE_LOGIN_MAX_LITERAL, True
        self.framer.max_command = PRE_LOGIN_MAX_COMMAND

    def login(self, account: Account) -> None:
        self.user = account
        self.state = State.AUTHENTICATED
        self.framer.max_literal, self.framer.literal_minus = self.settings.max_literal, False
        self.framer.max_command = max(framing.DEFAULT_MAX_COMMAND, self.settings.max_literal + framing.DEFAULT_MAX_LINE)

    def complete_login(self, account: Account, tag: str) -> r.TaggedReply:
        """``account`` authenticated: the tagged OK, or NO when that user already has as many sessions
        from this address as allowed (the connection stays, not logged in)."""
        if not self.conn.logged_in(account.address):
            log_event(log, "info", "login refused: too many sessions", session=self.session_id,
                      user=account.address, client=self.conn.peer[0])
            return r.no(tag, r.UNAVAILABLE, "Too many sessions of this user from this address, try again later")
        self.login(account)
        return r.ok(tag, "Logged in", r.code_capability(self.capabilities()))

    # -- output ---------------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._out.append(data)

    async def flush(self) -> None:
        if self._out:
            data, self._out = b"".join(self._out), []
            async with self._write_lock:  # compress under the lock: deflate output must stay in order
                await self.conn.write(self.deflate.compress(data) if self.deflate is not None else data)

    # -- shell interface ------------------------------------------------------------------------------

    async def greet(self) -> None:
        SESSIONS.inc(tls=str(self.conn.is_tls).lower())
        code = r.code_capability(self.capabilities())
        self.send(r.UntaggedReply("OK", "Pillarbox IMAP ready", code).to_bytes())
        await self.flush()

    async def on_timeout(self) -> None:
        await turnaround.stop_idle(self)
        self.send(r.bye("Autologout; idle for too long").to_bytes())
        await self.flush()
        self.closed = True

    async def on_shutdown(self) -> None:
        await turnaround.stop_idle(self)
        farewell = r.TOO_MANY_CONNECTIONS if self.conn.is_shed else r.bye("Server shutting down", r.UNAVAILABLE)
        self.send(farewell.to_bytes())
        await self.flush()
        self.closed = True

    def finish(self) -> None:
        """The connection is over, however it ended: drop a command's literals still spooled, stop a
        NOTIFY watch."""
        self._drop_literals()
        self.notifying.stop(self)

    async def on_eof(self) -> None:
        await turnaround.stop_idle(self)
        self.closed = True

    async def on_data(self, data: bytes) -> None:
        if self.deflate is None or not data:
            await self._frame(data)
        else:
            try:
                for piece in self.deflate.decompress(data):  # framed piece by piece: bounded memory
                    await self._frame(piece)
                    if self.closed:
                        break
            except (turnaround.InflateLimit, zlib.error):  # RFC 4978 4: a broken stream ends the session
                self.send(r.bye("Invalid compressed data").to_bytes())
                self.closed = True
        await self.flush()

    async def _frame(self, data: bytes) -> None:
        self.framer.receive_data(data)
        while not self.closed:
            event = self.framer.next_command()
            if isinstance(event, framing.Sentinel):
                break
            await self._event(event)

    async def _event(self, event: framing.Event) -> None:
        if isinstance(event, framing.FramedCommand):
            await (self._spooled_command(event) if event.spooled else self._command(event))
        elif isinstance(event, framing.LiteralData):
            self._literal_spool().write(event.data)
        elif isinstance(event, framing.NeedContinuation):
            self.send(r.continuation())
            await self.flush()
            self.framer.accept_literal()
        elif isinstance(event, framing.RawLine):
            await turnaround.raw_line(self, event.line)
        elif isinstance(event, framing.FramingError):
            self._drop_literals()
            self.reply(event.reply)
        elif isinstance(event, framing.ConnectionClosed):
            self.closed = True

    def _literal_spool(self) -> Spool:
        if self.literals is None:
            assert self.services.spool is not None  # the framer streams only with a spool
            self.literals = self.services.spool.open()
        return self.literals

    def _drop_literals(self) -> None:
        if self.literals is not None:
            self.literals.close()
            self.literals = None

    async def _spooled_command(self, framed: framing.FramedCommand) -> None:
        """A command whose large literals waited in the spool: run it with them back in place."""
        literals = self._literal_spool()
        try:
            async with literals.contents() as data:
                await self._command(framed.with_literals(data))
        except SpoolError as exc:
            log_event(log, "error", "literal not kept", session=self.session_id, error=str(exc))
            self.reply(r.no(framed.tag, r.UNAVAILABLE, "Insufficient system storage, try again later"))
        finally:
            self._drop_literals()

    # -- commands -------------------------------------------------------------------------------------

    async def _command(self, framed: framing.FramedCommand) -> None:
        if self._commanding is asyncio.current_task():  # run by a command (what COMPRESS found behind it)
            await self._locked_command(framed)
            return
        async with self.busy:
            self._commanding = asyncio.current_task()
            try:
                await self._locked_command(framed)
            finally:
                self._commanding = None

    async def _locked_command(self, framed: framing.FramedCommand) -> None:
        name = "other"  # metric label: only names we know, a client must not mint metric series
        self.tally.commands += 1
        try:
            command = parse_command(framed, utf8=self.utf8_names)
            name = command.name
            reply = await self._run(command)
        except ProtocolError as exc:
            reply = exc.reply
            if isinstance(reply, r.TaggedReply) and reply.tag == "*":
                reply = r.TaggedReply(framed.tag or "*", reply.status, reply.text, reply.code)
            if self.sasl is None and self.idle_task is None:
                self.resume_framing()
        except (OSError, ssl.SSLError, StorageFull) as exc:
            if not isinstance(exc, StorageFull) and not is_disk_full(exc):
                raise  # the peer went away or broke TLS: the listener ends the connection quietly
            reply = self._abandon(r.storage_full(framed.tag or "*"))
        except StoreUnavailable as exc:  # RFC 5530 3: UNAVAILABLE, "a subsystem is down"; try later
            log_event(log, "warning", "store unavailable", session=self.session_id, command=name, error=str(exc))
            reply = r.no(framed.tag or "*", r.UNAVAILABLE, "The mail store is unavailable; try again later")
            if self.sasl is None and self.idle_task is None:
                self.resume_framing()
        except Exception:  # a bug costs the client one command, not the connection
            log.exception("imap: internal error in %s", name, extra={"fields": {"session": self.session_id}})
            reply = self._abandon(r.no(framed.tag or "*", r.SERVERBUG, "Internal error; the command was not completed"))
        if reply is not None:
            COMMANDS.inc(command=name if name in self.table else "other", status=reply.status)
            self.reply(reply)

    def _abandon(self, reply: r.TaggedReply) -> r.TaggedReply:
        """A command that failed midway: its reply, and framing resumed unless a turn-around goes on."""
        if self.sasl is None and self.idle_task is None:
            self.resume_framing()
        return reply

    async def _run(self, command: Command) -> r.TaggedReply | None:
        entry = self.table.get(command.name)
        if entry is None:
            raise ProtocolError(r.bad(command.tag, f"Unknown command {command.name}"))
        states, handler = entry
        if self.state not in states:
            raise ProtocolError(r.bad(command.tag, f"{command.name} not allowed now ({self.state.value})"))
        if command.name in NO_PROGRESS:
            reply = await handler(self, command)
        else:
            reply = await self._telling_progress(command.tag, handler(self, command))
        if reply is not None and self.notify is not None:
            await self.notifying.after_command(self, command.name)
        # nothing at all goes out after LOGOUT's BYE (RFC 9051 6.1.3)
        if reply is not None and self.state is State.SELECTED and self.selected is not None and not self.closed:
            await self.report_changes(_may_expunge(command), exists_first=isinstance(command, Replace))
            if self.closed:  # the selected mailbox went away: its BYE ends the session, nothing follows it
                return None
        return reply

    async def _telling_progress(self, tag: str, work: Awaitable[r.TaggedReply | None]) -> r.TaggedReply | None:
        """Run a command; while it runs, every ``progress_interval`` seconds, ``* OK [INPROGRESS ("tag"
        NIL NIL)]`` (RFC 9585: the counts may be NIL), flushed at once, so that a client (and any NAT
        between) sees the connection is alive. A timer, not a task: most commands end long before it."""
        loop = asyncio.get_running_loop()
        sending: list[asyncio.Task[None]] = []
        timer: asyncio.TimerHandle | None = None

        def tick() -> None:
            nonlocal timer
            sending.append(loop.create_task(self._send_progress(tag)))
            timer = loop.call_later(self.settings.progress_interval, tick)

        timer = loop.call_later(self.settings.progress_interval, tick)
        try:
            return await work
        finally:
            if timer is not None:
                timer.cancel()
            await asyncio.gather(*sending, return_exceptions=True)  # before the tagged reply, in order

    async def _send_progress(self, tag: str) -> None:
        self.send(r.UntaggedReply("OK", "Still working", r.code_inprogress(tag)).to_bytes())
        await self.flush()

    def resume_framing(self) -> None:
        """After a turn-around command: back to framing commands (a raw line already did that)."""
        if self.framer.paused:
            self.framer.resume()

    def reply(self, reply: r.TaggedReply | r.UntaggedReply) -> None:
        if isinstance(reply, r.TaggedReply) and reply.status == "BAD":
            self.errors += 1
        self.send(reply.to_bytes())
        if self.errors >= self.settings.max_command_errors:
            self.send(r.bye("Too many invalid commands").to_bytes())
            self.closed = True

    def send_flags(self, view: SelectedMailbox, opening: bool = False) -> None:
        """FLAGS and PERMANENTFLAGS at SELECT, and again when a keyword comes into use (RFC 3501 7.2.6:
        "The update from the FLAGS response MUST be recorded by the client"); a read-only session's
        PERMANENTFLAGS () never changes."""
        self.send(r.flags_data(view.flag_names()))
        if opening or not view.read_only:
            code = r.code_permanentflags(settable(view.permanent_flags(), self.rights))
            self.send(r.UntaggedReply("OK", "Flags permitted", code).to_bytes())

    def send_exists(self, view: SelectedMailbox, count: int | None = None) -> None:
        """EXISTS, with RECENT for an IMAP4rev1 client (RFC 3501 7.3.2: whenever the size changes)."""
        self.send(r.exists_data(view.exists if count is None else count))
        if not self.rev2:
            self.send(r.recent_data(view.recent.count(view.uids)))

    async def report_changes(self, allow_expunge: bool, exists_first: bool = False) -> None:
        """Untagged EXPUNGE (or VANISHED)/EXISTS/FETCH for what others changed (RFC 9051 7.4.1, 5.2);
        ``exists_first``: the new size before the expunges, as RFC 8508's REPLACE example shows (the
        new messages come after every expunged one, so each EXPUNGE's number stays right)."""
        view = self.selected
        assert view is not None
        try:
            changes = await self.store.changes_since(view.id, view.known_modseq)
        except NotFound:  # deleted by another session (or the mailbox's owner): nothing left to show
            self.send(r.bye("The selected mailbox was deleted", r.NONEXISTENT).to_bytes())
            self.closed = True
            return
        told = view.uids[-1] if view.uids else 0
        update = view.merge(changes)
        leaving = self.updating.expunged(self, view)  # numbered as before the EXPUNGE (RFC 5267 4.3.4)
        if allow_expunge:
            view.announce(update)
        if update.new_keywords:
            self.send_flags(view)
        if exists_first and update.exists is not None:
            await self._report_exists(view, told, update.exists + len(update.expunged))
        for line in leaving:
            self.send(line)
        if self.qresync and update.expunged_uids:
            self.send(r.vanished_data(update.expunged_uids))  # RFC 7162 3.2.10: no sequence numbers
        else:
            for seq in update.expunged:
                self.send(r.expunge_data(seq))
        if not exists_first and update.exists is not None:
            await self._report_exists(view, told, update.exists)
        for entry in update.flags:
            seq = view.seq_of(entry.uid)
            if seq is not None:
                items = [("FLAGS", fetch.flag_list(entry.flags, entry.uid in view.recent)), ("UID", b"%d" % entry.uid)]
                if self.condstore:
                    items.append(("MODSEQ", b"(%d)" % entry.modseq))  # RFC 7162 3.1.4.1
                self.send(r.fetch_data(seq, items))
        for line in await self.updating.changed(self, view):  # after the EXISTS and FETCH (4.3.3)
            self.send(line)

    async def _report_exists(self, view: SelectedMailbox, told: int, count: int) -> None:
        if not self.rev2:
            await recent.take(self.store, view, told)
        self.send_exists(view, count)


def _may_expunge(command: Command) -> bool:
    """RFC 9051 7.5.1 (RFC 3501 7.4.1): no EXPUNGE while answering FETCH, STORE or SEARCH, whose
    sequence numbers it would shift; their UID forms are other commands, and may carry one. ESEARCH
    (RFC 7377) answers by UID but its criteria may hold sequence numbers: none either."""
    if isinstance(command, MultiSearch):
        return False
    return not isinstance(command, (Fetch, StoreCommand, Search)) or command.uid
