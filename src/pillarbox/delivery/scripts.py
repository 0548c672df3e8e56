"""Managing an account's Sieve scripts: one function per operation, shared by ManageSieve and the CLI.

A script is compiled before it is stored (RFC 5804 2.6: PUTSCRIPT "MUST check the script"), so a
stored script always compiled at upload. Limits: ``max_script_size`` octets and ``max_scripts`` per
account (RFC 5804 QUOTA/MAXSIZE, QUOTA/MAXSCRIPTS). The active script cannot be deleted (2.10, the
ACTIVE response code). Names: 1 to 128 characters, no control characters (1.6), and not the
``pillarbox-`` ones, which hold generated settings (forward, vacation).
"""

from __future__ import annotations

from pillarbox.delivery.filtering import FORWARD_SCRIPT, RESERVED_PREFIX, VACATION_SCRIPT, SieveSettings
from pillarbox.errors import StoreError
from pillarbox.sieve.compiler import Script, compile_script
from pillarbox.store.api import SieveStore
from pillarbox.store.records import SieveScript

MAX_NAME = 128


class ScriptError(StoreError):
    """Refused; ``code`` is the ManageSieve response code (RFC 5804 1.3)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029"
                                                 for c in name):
        raise ScriptError(f"invalid script name {name!r}")
    if name.startswith(RESERVED_PREFIX):
        raise ScriptError(f"script names starting with {RESERVED_PREFIX} are reserved")


def check_script(content: str, settings: SieveSettings) -> Script:
    """The compiled script or SieveSyntaxError (size first: QUOTA/MAXSIZE)."""
    if len(content.encode()) > settings.max_script_size:
        raise ScriptError(f"script larger than {settings.max_script_size} octets", "QUOTA/MAXSIZE")
    return compile_script(content)


async def list_scripts(store: SieveStore, account_id: int | None) -> list[SieveScript]:
    scripts = await store.list_sieve_scripts(account_id)
    return [s for s in scripts if not s.name.startswith(RESERVED_PREFIX)]


async def have_space(store: SieveStore, account_id: int, name: str, size: int, settings: SieveSettings) -> None:
    if size > settings.max_script_size:
        raise ScriptError(f"script larger than {settings.max_script_size} octets", "QUOTA/MAXSIZE")
    names = {s.name for s in await list_scripts(store, account_id)}
    if name not in names and len(names) >= settings.max_scripts:
        raise ScriptError(f"at most {settings.max_scripts} scripts", "QUOTA/MAXSCRIPTS")


async def put_script(store: SieveStore, account_id: int | None, name: str, content: str,
                     settings: SieveSettings) -> None:
    check_name(name)
    if account_id is not None:
        await have_space(store, account_id, name, len(content.encode()), settings)
    check_script(content, settings)
    await store.put_sieve_script(account_id, name, content)


async def get_script(store: SieveStore, account_id: int | None, name: str) -> SieveScript:
    found = await store.get_sieve_script(account_id, name)
    if found is None or name.startswith(RESERVED_PREFIX):
        raise ScriptError(f"no script {name}", "NONEXISTENT")
    return found


async def activate(store: SieveStore, account_id: int, name: str | None) -> None:
    if name is not None:
        await get_script(store, account_id, name)
    await store.activate_sieve_script(account_id, name)


async def delete(store: SieveStore, account_id: int | None, name: str) -> None:
    script = await get_script(store, account_id, name)
    if script.active:
        raise ScriptError(f"script {name} is active", "ACTIVE")
    await store.delete_sieve_script(account_id, name)


async def rename(store: SieveStore, account_id: int | None, old: str, new: str) -> None:
    check_name(new)
    await get_script(store, account_id, old)
    if await store.get_sieve_script(account_id, new) is not None:
        raise ScriptError(f"script {new} exists", "ALREADYEXISTS")
    await store.rename_sieve_script(account_id, old, new)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def forward_script(address: str, keep_copy: bool) -> str:
    """The generated Sieve of ``forward set``: redirect, with :copy when a copy stays here."""
    if keep_copy:
        return f'require "copy";\nredirect :copy {_quoted(address)};\n'
    return f"redirect {_quoted(address)};\n"


def vacation_script(message: str, subject: str | None, days: int) -> str:
    """The generated Sieve of ``vacation set``."""
    subject_arg = f":subject {_quoted(subject)} " if subject else ""
    return f'require "vacation";\nvacation :days {days} {subject_arg}{_quoted(message)};\n'


async def set_generated(store: SieveStore, account_id: int, kind: str, content: str | None) -> None:
    """Store (or with None remove) the account's generated forward or vacation script."""
    name = {"forward": FORWARD_SCRIPT, "vacation": VACATION_SCRIPT}[kind]
    if content is None:
        if await store.get_sieve_script(account_id, name) is not None:
            await store.delete_sieve_script(account_id, name)
        return
    compile_script(content)
    await store.put_sieve_script(account_id, name, content)
