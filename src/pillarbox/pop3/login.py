"""POP3 authentication: USER/PASS (RFC 1939 7) and AUTH (RFC 5034), over TLS only.

Both paths end in the Authenticator (argon2id off the loop, failures slowed, counted and logged) and
then in ``POP3Session.open_maildrop``. A refused login answers "-ERR [AUTH]" (RFC 3206 4: the
credentials are at fault, so the client should ask the user rather than retry) and leaves the
session in AUTHORIZATION state.

USER never reveals whether an account exists: it only remembers the name for PASS. Before TLS both
USER and AUTH are refused with a text that says what to do (principle 8; a password sent on a
plaintext connection is already lost, so we refuse the command that would carry it, USER, too).

SASL framing (RFC 5034 4): "AUTH mech [initial-response]", with "=" as an empty initial response;
challenges are "+ " and base64; the client answers a line of base64 or "*" to cancel. SCRAM's
server-final message is additional data with success, which POP3 cannot carry on "+OK", so it goes
as one more challenge whose answer must be empty (RFC 4422 3.6). "AUTH" alone lists the mechanisms,
as many servers do for older clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pillarbox.auth import sasl
from pillarbox.auth.authenticator import LoginRefused, SaslContinue, SaslExchange, SaslSuccess
from pillarbox.errors import ProtocolError
from pillarbox.pop3 import protocol as core
from pillarbox.pop3 import replies
from pillarbox.pop3.replies import Reply
from pillarbox.store.records import Account

if TYPE_CHECKING:
    from pillarbox.pop3.session import POP3Session

PROTOCOL = "pop3"


class LoginFlow:
    def __init__(self, session: POP3Session) -> None:
        self.session = session
        self.pending_user: str | None = None
        self.exchange: SaslExchange | None = None
        self.succeeded: Account | None = None  # SCRAM: success data sent, waiting for the empty answer

    @property
    def ip(self) -> str:
        return self.session.conn.peer[0]

    def forget(self) -> None:
        """STLS: nothing said before the handshake counts after it (RFC 2595 4)."""
        self.pending_user, self.exchange, self.succeeded = None, None, None

    def abort_sasl(self) -> None:
        """A refused line (too long...) ended the exchange: the core reads commands again."""
        self.exchange, self.succeeded = None, None

    def _require_tls(self) -> None:
        if not self.session.conn.is_tls:
            raise ProtocolError(replies.PLAINTEXT_REFUSED)

    # USER / PASS
    async def user(self, cmd: core.Command) -> Reply:
        self._require_tls()
        self.pending_user = str(cmd.args[0])
        return replies.USER_OK

    async def password(self, cmd: core.Command) -> Reply:
        self._require_tls()
        username, self.pending_user = self.pending_user, None
        if username is None:
            raise ProtocolError(replies.PASS_WITHOUT_USER)
        try:
            account = await self.session.services.authenticator.login(
                PROTOCOL, self.ip, username, str(cmd.args[0]), secure=self.session.conn.is_tls)
        except LoginRefused:  # a locked-out client too: it must not learn that its guesses go unchecked
            raise ProtocolError(replies.AUTH_FAILED) from None
        return await self.session.open_maildrop(account)

    # AUTH
    async def auth(self, cmd: core.Command) -> Reply | bytes | None:
        self._require_tls()
        self.pending_user = None
        if not cmd.args:
            return core.multiline(replies.AUTH_LIST, sasl.mechanisms_for(tls=True))
        exchange = self.session.services.authenticator.start_sasl(
            PROTOCOL, self.ip, str(cmd.args[0]), secure=self.session.conn.is_tls)
        if exchange is None:
            raise ProtocolError(replies.UNKNOWN_MECHANISM)
        self.exchange = exchange
        return await self._advance(lambda: exchange.start(_initial(cmd)))

    async def sasl_response(self, event: core.SaslResponse) -> Reply | None:
        exchange, account = self.exchange, self.succeeded
        if event.line == b"*":
            self.forget()
            return replies.SASL_CANCELLED
        if account is not None:
            self.forget()
            if event.line:
                raise ProtocolError(replies.SASL_MALFORMED)
            return await self.session.open_maildrop(account)
        if exchange is None:  # not expected: the core reads a response only after our challenge
            raise ProtocolError(replies.SASL_MALFORMED)
        return await self._advance(lambda: exchange.step(sasl.decode_response(event.line)))

    async def _advance(self, make_step: Callable[[], Awaitable[SaslContinue | SaslSuccess]]) -> Reply | None:
        try:
            step = await make_step()
        except sasl.SASLError:
            self.forget()
            raise ProtocolError(replies.SASL_MALFORMED) from None
        except LoginRefused:
            self.forget()
            raise ProtocolError(replies.AUTH_FAILED) from None
        if isinstance(step, SaslContinue):
            return self._challenge(step.challenge)
        assert isinstance(step, SaslSuccess)
        if step.additional_data:
            self.succeeded = step.account
            return self._challenge(step.additional_data)
        self.forget()
        return await self.session.open_maildrop(step.account)

    def _challenge(self, data: bytes) -> None:
        self.session.push(f"+ {sasl.encode_challenge(data)}\r\n".encode("ascii"))
        self.session.core.expect_sasl_response()


def _initial(cmd: core.Command) -> bytes | None:
    if len(cmd.args) < 2:
        return None
    return sasl.decode_response(str(cmd.args[1]).encode("ascii", "replace"), initial=True)
