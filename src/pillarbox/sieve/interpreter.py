"""The Sieve interpreter: checked scripts and a message view in, a list of actions out (RFC 5228 2.10).

Sans-IO: nothing here touches the store, the network or the clock (ARCHITECTURE habit 14). A run is a
sequence of scripts, the admin's "before" script, the account's own, the admin's "after" script; they
share one implicit keep and one list of actions. ``stop`` ends the script it is in and every script
before the first "after" one, so an admin rule like "spam to Junk, stop" also holds over the user's
rules while the "after" script still runs.

RFC 5228 2.10.6 / the issue's "never lose mail": any runtime error (a limit, two incompatible actions,
an include loop) throws away every action and leaves only the implicit keep, with the error in the
result for the host to log. Actions are only collected here, so "throwing away" costs nothing: no
redirect went out, no reply was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pillarbox.sieve import actions as act
from pillarbox.sieve.commands import execute_command
from pillarbox.sieve.compiler import Node, Script
from pillarbox.sieve.context import Context, Question
from pillarbox.sieve.errors import LimitExceeded, SieveRuntimeError
from pillarbox.sieve.matching import Budget
from pillarbox.sieve.message import HeaderField, MessageView, header_block
from pillarbox.sieve.state import NeedAnswer, Returned, RunState, Stopped


@dataclass(frozen=True)
class Result:
    actions: tuple[act.Action, ...] = ()
    question: Question | None = None
    error: SieveRuntimeError | None = None
    log: tuple[str, ...] = field(default=())


def run(scripts: Sequence[Script], view: MessageView, context: Context, after: int | None = None) -> Result:
    """Run ``scripts`` in order; ``after``: index of the first admin "after" script (``stop`` skips to it)."""
    state = RunState(view, context, Budget(context.limits.max_steps), list(view.fields))
    first_after = len(scripts) if after is None else after
    index = 0
    try:
        while index < len(scripts):
            try:
                state.run_script(scripts[index], execute_block)
            except Stopped:
                if index < first_after:
                    index = first_after
                    continue
            index += 1
        return Result(tuple(_finish(state)), log=tuple(state.log))
    except NeedAnswer as need:
        return Result(question=need.question)
    except SieveRuntimeError as error:
        return Result((act.Keep(implicit=True),), error=error, log=tuple(state.log))
    except RecursionError:  # cannot happen within the parser's depth limit; never lose the message
        return Result((act.Keep(implicit=True),), error=LimitExceeded("nesting too deep"))


def execute_block(state: RunState, nodes: Sequence[Node]) -> None:
    taken = True  # whether the current if/elsif chain already ran a block
    for node in nodes:
        state.budget.spend()
        if node.name == "if":
            taken = state.test(node.tests[0])
            if taken:
                execute_block(state, node.block or ())
        elif node.name == "elsif":
            if not taken:
                taken = state.test(node.tests[0])
                if taken:
                    execute_block(state, node.block or ())
        elif node.name == "else":
            if not taken:
                execute_block(state, node.block or ())
            taken = True
        elif node.name == "stop":
            raise Stopped
        elif node.name == "return":
            raise Returned
        else:
            execute_command(state, node)


def _finish(state: RunState) -> list[act.Action]:
    """RFC 5228 2.10.2 implicit keep, RFC 5429 2.2 reject conflicts, RFC 5228 10 limits."""
    found = state.actions
    rejects = [a for a in found if isinstance(a, act.Reject)]
    if rejects:
        conflicting = [a for a in found if isinstance(a, act.Keep | act.FileInto | act.Vacation)]
        if len(rejects) > 1 or conflicting:
            raise SieveRuntimeError("reject cannot be combined with keep, fileinto, vacation or another reject")
    elif state.implicit_keep:
        flags = tuple(state.flags) if state.flags_used else None
        found = [*found, act.Keep(flags, _edited(state), implicit=True)]
    if sum(not isinstance(a, act.Remember) for a in found) > state.context.limits.max_actions:
        raise LimitExceeded(f"more than {state.context.limits.max_actions} actions")
    return found


def _edited(state: RunState) -> bytes | None:
    return header_block(state.fields) if state.fields_edited else None


__all__ = ["HeaderField", "Result", "execute_block", "run"]
