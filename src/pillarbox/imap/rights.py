"""RFC 4314 rights: letters, the virtual "c" and "d" (2.1.1), and how SETACL changes a set of them.

Rights are single lower-case letters: l lookup, r read, s seen, w write (other flags), i insert,
p post, k create below, x delete mailbox, t delete messages, e expunge, a administer. Of the two
ways 2.1.1 offers for RFC 2086's "c" and "d", Pillarbox takes "c" = k x and "d" = e t: a given "c" or
"d" stands for its members, and a set with any member is shown with the virtual letter too.
"""

from __future__ import annotations

from collections.abc import Iterable

RIGHTS = "lrswipkxtea"
VIRTUAL = {"c": "kx", "d": "et"}
EXTRA = "texk"
"""The RIGHTS= capability: the rights beyond RFC 2086 (5.1.1: must include t, e, x and k)."""
WRITE_RIGHTS = frozenset("iestw")
"""With none of these a SELECT is READ-ONLY (5.2: insert, expunge and the shared flag rights)."""


class RightsError(ValueError):
    """A rights string with a letter that is no right (3.1: BAD)."""


def expand(text: str) -> frozenset[str]:
    """The rights ``text`` names, virtual letters replaced by their members."""
    found: set[str] = set()
    for letter in text:
        if letter in VIRTUAL:
            found.update(VIRTUAL[letter])
        elif letter in RIGHTS:
            found.add(letter)
        elif letter.isupper():
            raise RightsError("Uppercase rights are not allowed")
        else:
            raise RightsError(f"The {letter} right is not supported")
    return frozenset(found)


def modify(current: str, change: str) -> str:
    """SETACL's third argument applied to ``current`` (3.1): "+x" adds, "-x" removes, "x" replaces."""
    if change.startswith("+"):
        return canonical(frozenset(current) | expand(change[1:]))
    if change.startswith("-"):
        return canonical(frozenset(current) - expand(change[1:]))
    return canonical(expand(change))


def canonical(rights: frozenset[str] | str) -> str:
    """The stored form: real rights in RFC order."""
    return "".join(letter for letter in RIGHTS if letter in rights)


def flag_right(flag: str) -> str:
    """The right that changing ``flag`` takes (4): \\Seen "s", \\Deleted "t", any other "w"."""
    return {"\\seen": "s", "\\deleted": "t"}.get(flag.lower(), "w")


def settable(flags: Iterable[str], rights: str) -> list[str]:
    """Those of ``flags`` that ``rights`` let the user change (for STORE, APPEND and PERMANENTFLAGS,
    which must reflect the user's rights: 5.1.1)."""
    return [flag for flag in flags if flag_right(flag) in rights]


def shown(rights: str) -> str:
    """As MYRIGHTS and ACL show them: with "c" and "d" where a member is there (2.1.1)."""
    return rights + "".join(v for v, members in VIRTUAL.items() if set(members) & set(rights))
