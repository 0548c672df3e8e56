"""CPU time of a server and everything it runs, read from /proc, for any server (Pillarbox, Postfix...).

The CPU of a process tree is the sum, over every live process under the roots, of
utime + stime (all its threads) + cutime + cstime (its children that have exited and been reaped).
A short-lived worker (Postfix's smtpd, cleanup, lmtp; Dovecot's lmtp) is therefore counted once:
while it lives through its own utime/stime, once reaped through its parent's cutime/cstime.
The difference of two readings is the CPU the tree spent between them.

    python bench/proctree.py PID [PID...]     # prints the tree's CPU seconds
"""

from __future__ import annotations

import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime+stime+cutime+cstime in ticks), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # the command name may contain spaces and ")"
    # fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def tree_cpu_seconds(roots: list[int]) -> float:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                stats[int(entry)] = found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, [r for r in roots if r in stats], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return total / TICK


def tree_pids(roots: list[int]) -> list[int]:
    """Every live pid under the roots (roots included)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            parents[int(entry)] = found[0]
    result = []
    for pid in parents:
        p = pid
        while p and p not in roots:
            p = parents.get(p, 0)
        if p:
            result.append(pid)
    return result


if __name__ == "__main__":
    print(f"{tree_cpu_seconds([int(a) for a in sys.argv[1:]]):.2f}")
