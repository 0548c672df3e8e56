"""What an extended SEARCH or SORT returns (RFC 4731 ESEARCH, 5182 SAVE, 5267 ESORT, 9394 PARTIAL).

A search yields its matches in an order: mailbox order for SEARCH, the requested order for SORT
(RFC 5267 4.1). The return options then pick what the client is told, by position in that order:

- MIN and MAX are the first and the last match (for SORT, of the sorted list: 5267 3.1);
- ALL is every match, as a sequence-set that keeps the order (a SORT's ranges only ever ascend, 3.2);
- COUNT is how many;
- PARTIAL m:n is the m-th to the n-th match, -m:-n counted from the last one (9394 3.1), sent with the
  range as the client wrote it, NIL where no match falls in it.

CONTEXT and UPDATE (RFC 5267 4.2, 4.3) ask for no data: given without MIN, MAX, ALL, COUNT or PARTIAL
they mean ALL, as "RETURN ()" does (RFC 4731 3.1), since a client asking for updates needs the result
they update (with SAVE alone nothing is sent: RFC 5182 2.1).

SAVE keeps what the result reports (RFC 5182 2.4, RFC 9394 3.2 table 1): with COUNT or ALL (or no
option but SAVE) every match; otherwise the PARTIAL slice, MIN and MAX together. The same positions
give the MODSEQ that a CONDSTORE search reports (RFC 4731 3.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from pillarbox.imap.parser.commands import SearchReturn
from pillarbox.imap.response import uid_set

ResultItem = tuple[str, int | str]
DATA_FREE = frozenset({"SAVE", "CONTEXT", "UPDATE"})
"""Return options that ask for no data of their own."""


def data_options(returns: SearchReturn) -> tuple[str, ...]:
    """The options, with ALL where none asks for data (RFC 4731 3.1; RFC 5267 4.2, 4.3)."""
    options = returns.options
    if set(options) <= DATA_FREE and options != ("SAVE",):
        return ("ALL", *options)
    return options


def partial_positions(partial: tuple[int, int], count: int) -> range:
    """The positions (0-based) of the matches a PARTIAL range names among ``count``."""
    low, high = sorted((abs(partial[0]), abs(partial[1])))
    if partial[0] > 0:
        return range(min(low - 1, count), min(high, count))
    return range(max(count - high, 0), max(count - low + 1, 0))


def reported_positions(returns: SearchReturn, count: int) -> list[int]:
    """The positions of the matches the result names: what SAVE keeps and MODSEQ is taken over."""
    options = returns.options
    if "COUNT" in options or "ALL" in options or set(options) <= DATA_FREE:
        return list(range(count))
    chosen: set[int] = set()
    if returns.partial is not None:
        chosen.update(partial_positions(returns.partial, count))
    if count and "MIN" in options:
        chosen.add(0)
    if count and "MAX" in options:
        chosen.add(count - 1)
    return sorted(chosen)


def return_data(returns: SearchReturn, numbers: Sequence[int], ordered: bool = False) -> list[ResultItem]:
    """The ``search-return-data`` items for ``numbers`` (matches in result order); ``ordered``: a SORT's
    order, kept in ALL and PARTIAL (RFC 5267 3.2)."""
    options = data_options(returns)
    items: list[ResultItem] = []
    if "MIN" in options and numbers:
        items.append(("MIN", numbers[0]))
    if "MAX" in options and numbers:
        items.append(("MAX", numbers[-1]))
    if "ALL" in options and numbers:  # an empty ALL is left out (RFC 4731 3.1)
        items.append(("ALL", uid_set(numbers, sort=not ordered)))
    if returns.partial is not None:
        picked = [numbers[index] for index in partial_positions(returns.partial, len(numbers))]
        first, last = returns.partial
        items.append(("PARTIAL", f"({first}:{last} {uid_set(picked, sort=not ordered) or 'NIL'})"))
    if "COUNT" in options:
        items.append(("COUNT", len(numbers)))
    return items
