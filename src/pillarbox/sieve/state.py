"""One run's mutable state: actions so far, implicit keep, flags, the edited header, variables, includes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pillarbox.sieve import actions as act
from pillarbox.sieve.compiler import Node, Script
from pillarbox.sieve.conditions import evaluate_test
from pillarbox.sieve.context import Context, Question
from pillarbox.sieve.errors import LimitExceeded, SieveRuntimeError
from pillarbox.sieve.matching import Budget
from pillarbox.sieve.message import HeaderField, MessageView
from pillarbox.sieve.variables import Variables


class Stopped(Exception):
    """``stop`` (RFC 5228 3.3)."""


class Returned(Exception):
    """``return`` (RFC 6609 3.3): leave the current (included) script."""


class NeedAnswer(Exception):
    def __init__(self, question: Question) -> None:
        super().__init__(question.kind)
        self.question = question


Executor = Callable[["RunState", Sequence[Node]], None]


@dataclass
class Frame:
    script: Script
    variables: Variables
    location: str
    name: str


@dataclass
class RunState:
    view: MessageView
    context: Context
    budget: Budget
    fields: list[HeaderField]
    fields_edited: bool = False
    actions: list[act.Action] = field(default_factory=list)
    implicit_keep: bool = True
    flags: list[str] = field(default_factory=list)
    flags_used: bool = False
    redirects: int = 0
    frames: list[Frame] = field(default_factory=list)
    includes: int = 0
    included_once: set[tuple[str, str]] = field(default_factory=set)
    shared: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    executor: Executor | None = None

    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    def run_script(self, script: Script, executor: Executor, location: str = "", name: str = "") -> None:
        """Run one script with its own variables (RFC 6609 3.4: only ``global`` ones are shared)."""
        self.executor = executor
        self.frames.append(Frame(script, Variables(self.shared), location, name))
        try:
            executor(self, script.commands)
        except Returned:
            pass
        finally:
            self.frames.pop()

    def include(self, location: str, name: str, once: bool, optional: bool) -> None:
        key = (location, name)
        if once and key in self.included_once:
            return
        if any((f.location, f.name) == key for f in self.frames):
            raise SieveRuntimeError(f"include loop: {location} script {name!r} includes itself")
        if len(self.frames) > self.context.limits.max_include_depth:
            raise LimitExceeded("includes nested too deep")
        self.includes += 1
        if self.includes > self.context.limits.max_includes:
            raise LimitExceeded(f"more than {self.context.limits.max_includes} includes")
        question = Question("include", key)
        if question not in self.context.answers:
            raise NeedAnswer(question)
        script = self.context.answers[question]
        if not isinstance(script, Script):
            if optional:
                return
            raise SieveRuntimeError(f"included {location} script {name!r} does not exist")
        self.included_once.add(key)
        assert self.executor is not None
        self.run_script(script, self.executor, location, name)

    def uses(self, extension: str) -> bool:
        return extension in self.frame.script.extensions

    def expand(self, text: str) -> str:
        return self.frame.variables.expand(text) if self.uses("variables") else text

    def expand_all(self, texts: Sequence[str]) -> list[str]:
        return [self.expand(t) for t in texts]

    def ask(self, question: Question) -> object:
        if question not in self.context.answers:
            raise NeedAnswer(question)
        return self.context.answers[question]

    def add(self, action: act.Action) -> None:
        self.actions.append(action)
        if sum(not isinstance(a, act.Remember) for a in self.actions) > self.context.limits.max_actions:
            raise LimitExceeded(f"more than {self.context.limits.max_actions} actions")

    def flag_source(self, variable: object) -> str:
        """The flags in ``variable``, or in the internal variable when None (RFC 5232 3)."""
        if variable is None:
            return " ".join(self.flags)
        return self.frame.variables.get(self.expand(str(variable)))

    def test(self, node: Node) -> bool:
        self.budget.spend()
        return evaluate_test(self, node)
