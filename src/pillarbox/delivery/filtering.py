"""Which Sieve scripts run for an account, compiled once, and the run with the store answering questions.

Order (docs/sieve.md): the admin's global ``before`` script, the generated settings (vacation, then
forward: ``forward set`` / ``vacation set``), the account's active script, the admin's global
``after`` script. The interpreter is sans-IO; here its questions (was this seen, does that mailbox
exist, what is in that included script) are answered from the store and the run repeated.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import tzinfo

from pillarbox.config import SieveConfig
from pillarbox.obs import get_logger, log_event
from pillarbox.sieve.compiler import Script, compile_script
from pillarbox.sieve.context import Context, Limits, Question, SpamVerdict
from pillarbox.sieve.errors import SieveError, SieveRuntimeError
from pillarbox.sieve.interpreter import Result, run
from pillarbox.sieve.message import MessageView
from pillarbox.store.api import Backend, SieveStore
from pillarbox.store.records import Account

log = get_logger("sieve")
BEFORE, AFTER = "before", "after"
VACATION_SCRIPT, FORWARD_SCRIPT = "pillarbox-vacation", "pillarbox-forward"
RESERVED_PREFIX = "pillarbox-"
"""Names of the generated scripts: ManageSieve and ``sieve put`` refuse them, LISTSCRIPTS hides them."""


@dataclass(frozen=True)
class SieveSettings:
    limits: Limits = field(default_factory=Limits)
    max_script_size: int = 65_536
    max_scripts: int = 16
    srs_max_age_days: int = 21
    max_delivered_to: int = 10
    """A message that already carries this many Delivered-To fields is looping: it is not redirected."""


def settings_from_config(knobs: SieveConfig) -> SieveSettings:
    limits = Limits(
        max_actions=knobs.max_actions, max_redirects=knobs.max_redirects, max_steps=knobs.max_steps,
        max_include_depth=knobs.max_include_depth, max_includes=knobs.max_includes,
        vacation_min_seconds=knobs.vacation_min_days * 86400, vacation_max_seconds=knobs.vacation_max_days * 86400,
        duplicate_max_seconds=knobs.duplicate_max_days * 86400,
    )
    return SieveSettings(limits, knobs.max_script_size, knobs.max_scripts, knobs.srs_max_age_days,
                         knobs.max_delivered_to)


class _Compiled:
    """Compiled scripts by content hash: a script is compiled once per process, not per message."""

    def __init__(self, size: int = 512) -> None:
        self.cache: OrderedDict[str, Script | SieveError] = OrderedDict()
        self.size = size

    def get(self, text: str) -> Script:
        key = hashlib.sha256(text.encode()).hexdigest()
        found = self.cache.get(key)
        if found is None:
            try:
                found = compile_script(text)
            except SieveError as error:  # stored before a limit changed, or by hand: keep, never lose
                found = error
            self.cache[key] = found
            if len(self.cache) > self.size:
                self.cache.popitem(last=False)
        self.cache.move_to_end(key)
        if isinstance(found, SieveError):
            raise SieveRuntimeError(f"stored script does not compile: {found}")
        return found


class SieveFilter:
    def __init__(self, store: Backend, settings: SieveSettings | None = None, local_zone: tzinfo | None = None) -> None:
        self.store = store
        self.sieve: SieveStore = store
        self.settings = settings or SieveSettings()
        self.local_zone = local_zone
        self.compiled = _Compiled()

    async def scripts(self, account: Account) -> tuple[list[Script], int]:
        """The account's run sequence and the index of the first "after" script."""
        glob = {s.name: s.content for s in await self.sieve.list_sieve_scripts(None)}
        own = await self.sieve.list_sieve_scripts(account.id)
        texts = [glob[BEFORE]] if BEFORE in glob else []
        texts += [s.content for name in (VACATION_SCRIPT, FORWARD_SCRIPT) for s in own if s.name == name]
        texts += [s.content for s in own if s.active and not s.name.startswith(RESERVED_PREFIX)]
        after = len(texts)
        texts += [glob[AFTER]] if AFTER in glob else []
        return [self.compiled.get(t) for t in texts], after

    async def evaluate(
        self, account: Account, view: MessageView, spam: SpamVerdict | None, environment: dict[str, str]
    ) -> Result | None:
        """The run's result, or None when the account has nothing to run (plain delivery)."""
        try:
            scripts, after = await self.scripts(account)
        except SieveRuntimeError as error:
            return Result(error=error)
        if not scripts:
            return None
        now = self.store.now()
        context = Context(now, self.local_zone or now.astimezone().tzinfo or now.tzinfo,  # type: ignore[arg-type]
                          spam, environment, {}, self.settings.limits)
        for _ in range(self.settings.limits.max_questions):
            result = run(scripts, view, context, after)
            if result.question is None:
                return result
            context = context.answered(result.question, await self._answer(account, result.question))
        return Result(error=SieveRuntimeError("too many questions for the store"))

    async def _answer(self, account: Account, question: Question) -> object:
        if question.kind == "duplicate":
            return await self.sieve.sieve_seen(account.id, question.key[0], self.store.now().timestamp())
        if question.kind == "mailbox":
            return await self.store.get_mailbox(account.id, question.key[0]) is not None
        location, name = question.key
        stored = await self.sieve.get_sieve_script(None if location == "global" else account.id, name)
        if stored is None:
            return None
        try:
            return self.compiled.get(stored.content)
        except SieveRuntimeError as error:
            log_event(log, "error", "included script does not compile", account=account.address, script=name,
                      error=str(error))
            return None
