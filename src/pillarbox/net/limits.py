"""How many connections a listener takes, from whom, and whom it lets go first when it is full.

The problem: one cap for the whole server lets a few hundred idle connections to one port (SMTP
from a botnet, half-open IMAP logins) lock everyone out of every port, the health check included;
and one cap per client address locks ten colleagues behind one NAT address out of IMAP, since
Thunderbird alone opens five connections per account.

What we do: each kind of listener (SMTP, submission, IMAP, POP3, HTTP; the plaintext and TLS ports
of one protocol together) has its own ``ConnectionLimiter`` with its own ``PoolLimits``:

* ``max_connections``, of which ``reserved`` can only be held by sessions that logged in: the
  connections that have not logged in yet never take the last ``reserved`` places;
* ``max_per_ip``: connections from one client address (an IPv6 client: its /64). Where users log
  in (IMAP, POP3) it counts only the connections that have not logged in yet; a logged-in session
  counts per user and address instead (``max_per_user_ip``, Dovecot's mail_max_userip_connections).
  On SMTP it counts every connection (Postfix's smtpd_client_connection_count_limit).
* When a new connection finds the listener full, the oldest connection that has not logged in is
  let go (``Lease.shed``: the session says goodbye with the protocol's "too many connections") and
  the new one takes its place. A slow client that holds a connection open does not hold it for
  long against newcomers, and a logged-in session is never cut for a stranger. When every
  connection belongs to a logged-in user, the newcomer is refused.

With several server processes (``workers``) the counts of the others come from the shared board
(``net/balance.py``); each process lets go only its own connections, so when this process has no
connection that could be let go the newcomer is refused even if another process has one.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from pillarbox.net.balance import LoadBoard

_TOTAL, _USERS = 0, 1  # a limiter's two named counters on the board, from its ``slot`` on


@dataclass(frozen=True)
class PoolLimits:
    max_connections: int
    max_per_ip: int | None = None
    max_per_user_ip: int | None = None
    reserved: int = 0
    """Places only logged-in sessions may take."""
    per_ip_counts_users: bool = True
    """False: a session that logged in no longer counts for ``max_per_ip`` (IMAP, POP3)."""


class Lease:
    """One admitted connection's place in its limiter's counts; released exactly once."""

    def __init__(self, limiter: ConnectionLimiter, ip_key: str, order: int) -> None:
        self.limiter = limiter
        self.ip_key = ip_key
        self.order = order
        self.user: str | None = None
        self.released = False
        self.on_shed: Callable[[], None] = lambda: None
        """Set by the listener: how to end this connection when it is let go for a newcomer."""

    def promote(self, user: str) -> bool:
        """The session logged in as ``user``; False if that user has too many sessions from here."""
        return self.limiter.promote(self, user)

    def demote(self) -> bool:
        """The session logged out but goes on (IMAP UNAUTHENTICATE): a stranger's place again; False
        (and nothing changed) when that place is not free, and the session should end instead."""
        return self.limiter.demote(self)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter.release(self)

    def shed(self) -> None:
        """Let this connection go for a newcomer: its place is free at once, the session ends soon."""
        self.release()
        self.on_shed()


class ConnectionLimiter:
    """The connections of one kind of listener (see the module essay); ``slot``: the first of its
    two counters on ``board``."""

    def __init__(
        self, limits: PoolLimits, *, name: str = "", board: LoadBoard | None = None, slot: int = 0,
        ipv6_prefix: int = 64,
    ) -> None:
        self.limits = limits
        self.name = name
        self.board = board
        self.slot = slot
        self.ipv6_prefix = ipv6_prefix
        self.total = 0
        self.users = 0
        self._keys: dict[str, int] = {}
        self._waiting: dict[int, Lease] = {}  # not logged in, oldest first (dicts keep insertion order)
        self._order = itertools.count()
        self.refusal_reason = ""

    def key(self, ip: str) -> str:
        """The client as counted: its address, an IPv4-mapped address as IPv4, IPv6 by prefix."""
        try:
            addr = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return ip  # not an IP peer (never expected on TCP); count it under its own name
        if isinstance(addr, ipaddress.IPv6Address):
            if addr.ipv4_mapped is not None:
                return str(addr.ipv4_mapped)
            return str(ipaddress.IPv6Network((addr, self.ipv6_prefix), strict=False))
        return str(addr)

    def admit(self, ip: str) -> Lease | None:
        """A place for a new connection from ``ip``, letting the oldest waiting one go if full; None:
        refused (``refusal_reason`` says why)."""
        ip_key = self.key(ip)
        limit = self.limits.max_per_ip
        if limit is not None and self._count(self._ip_counter(ip_key)) >= limit:
            self.refusal_reason = "too many connections from this address"
            return None
        while self._full():
            if not self._waiting:
                self.refusal_reason = "full of logged-in sessions"
                return None
            next(iter(self._waiting.values())).shed()
        lease = Lease(self, ip_key, next(self._order))
        self._waiting[lease.order] = lease
        self._move(_TOTAL, 1)
        self._move_key(self._ip_counter(ip_key), 1)
        return lease

    def promote(self, lease: Lease, user: str) -> bool:
        if lease.user is not None or lease.released:
            return lease.user == user
        user_key = self._user_counter(user, lease.ip_key)
        limit = self.limits.max_per_user_ip
        if limit is not None and self._count(user_key) >= limit:
            return False
        lease.user = user
        del self._waiting[lease.order]
        self._move(_USERS, 1)
        self._move_key(user_key, 1)
        if not self.limits.per_ip_counts_users:
            self._move_key(self._ip_counter(lease.ip_key), -1)
        return True

    def demote(self, lease: Lease) -> bool:
        if lease.user is None or lease.released:
            return not lease.released
        ip_counter = self._ip_counter(lease.ip_key)
        limit = self.limits.max_per_ip
        counted_already = self.limits.per_ip_counts_users
        if not counted_already and limit is not None and self._count(ip_counter) >= limit:
            return False
        total = self.total + (self.board.others(self.slot + _TOTAL) if self.board else 0)
        users = self.users + (self.board.others(self.slot + _USERS) if self.board else 0)
        if total - users >= self.limits.max_connections - self.limits.reserved:
            return False  # the waiting room is full: this session would take a logged-in user's place
        self._move(_USERS, -1)
        self._move_key(self._user_counter(lease.user, lease.ip_key), -1)
        if not counted_already:
            self._move_key(ip_counter, 1)
        lease.user = None
        self._waiting[lease.order] = lease
        return True

    def release(self, lease: Lease) -> None:
        self._move(_TOTAL, -1)
        if lease.user is None:
            self._waiting.pop(lease.order, None)
            self._move_key(self._ip_counter(lease.ip_key), -1)
            return
        self._move(_USERS, -1)
        self._move_key(self._user_counter(lease.user, lease.ip_key), -1)
        if self.limits.per_ip_counts_users:
            self._move_key(self._ip_counter(lease.ip_key), -1)

    def count(self, ip: str) -> int:
        """Connections from ``ip`` that count for ``max_per_ip``, in this process."""
        return self._keys.get(self._ip_counter(self.key(ip)), 0)

    def _full(self) -> bool:
        total = self.total + (self.board.others(self.slot + _TOTAL) if self.board else 0)
        users = self.users + (self.board.others(self.slot + _USERS) if self.board else 0)
        waiting_room = self.limits.max_connections - self.limits.reserved
        return total >= self.limits.max_connections or total - users >= waiting_room

    def _count(self, key: str) -> int:
        return self._keys.get(key, 0) + (self.board.others_key(key) if self.board else 0)

    def _ip_counter(self, ip_key: str) -> str:
        return f"{self.name}|{ip_key}"

    def _user_counter(self, user: str, ip_key: str) -> str:
        return f"{self.name}|{user.lower()}|{ip_key}"

    def _move(self, counter: int, delta: int) -> None:
        if counter == _TOTAL:
            self.total += delta
            if self.board is not None:
                self.board.add_total(delta)
        else:
            self.users += delta
        if self.board is not None:
            self.board.add(self.slot + counter, delta)

    def _move_key(self, key: str, delta: int) -> None:
        left = self._keys.get(key, 0) + delta
        if left > 0:
            self._keys[key] = left
        else:
            self._keys.pop(key, None)
        if self.board is not None:
            self.board.add_key(key, delta)
