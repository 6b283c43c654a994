"""The server as child subreaper (DESIGN.md §12.10), reaping only the orphans it adopts.

``become_subreaper()`` makes this process the one that inherits the orphans of its
descendants (``prctl(PR_SET_CHILD_SUBREAPER)``), so what a command leaves behind stays
under the server instead of going to PID 1. Those adopted processes must be reaped
here when they exit — without ever waiting for one of the server's *own* children,
whose exit status belongs to whoever started it (asyncio's child watcher for commands,
``subprocess.Popen`` for kernels). ``Reaper.sweep()`` reaps a zombie child only when it
is provably adopted:

- it was seen alive with another parent before (it changed parent to us), or
- it carries a task's marker (``procs.TASK_ENV``) and is not a command's leader, or
- it is in the session or group of a command's leader without being that leader.

A direct child never matches: the server forks only command leaders (excluded) and
processes that are neither marked nor in a command's session. Sweeps run every
``SWEEP_SECONDS`` (from the manager's tick). An orphan that is adopted and exits between
two sweeps without matching stays a zombie until the server exits (it holds no
resources but its PID).
"""

from __future__ import annotations

import ctypes
import logging
import os

from . import procs

log = logging.getLogger(__name__)
PR_SET_CHILD_SUBREAPER = 36
_enabled = False
#: Seconds between sweeps (a sweep reads /proc/PID/stat of every process).
SWEEP_SECONDS = 6.0


def become_subreaper() -> bool:
    """Make this process its descendants' subreaper; False where the OS cannot (not Linux)."""
    global _enabled
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _enabled = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _enabled = False
    return _enabled


def is_subreaper() -> bool:
    """Whether ``become_subreaper()`` succeeded in this process."""
    return _enabled


class Reaper:
    """Reaps the orphans this process adopted; call ``sweep()`` now and then (blocking)."""

    def __init__(self) -> None:
        self._parents: dict[int, tuple[str, int]] = {}  # pid -> (start, parent) when last seen
        self._adopted: dict[int, str] = {}  # pid -> start of children known to be adopted
        self._next = 0.0

    def due(self, now: float) -> bool:
        """Whether a sweep is due at monotonic time ``now`` (then the next is planned)."""
        if now < self._next:
            return False
        self._next = now + SWEEP_SECONDS
        return True

    def sweep(self) -> int:
        """Reap adopted zombies; return how many."""
        me, roots = os.getpid(), procs.command_roots()
        parents: dict[int, tuple[str, int]] = {}
        reaped = 0
        for pid in procs.pids():
            stat = procs.read_stat(pid)
            if stat is None:
                continue
            if stat.state not in ("Z", "X"):
                parents[pid] = (stat.start, stat.ppid)
                if stat.ppid == me and pid not in roots and self._adoptee(pid, stat, roots):
                    self._adopted[pid] = stat.start
            elif stat.ppid == me and pid not in roots and (
                    self._adopted.get(pid) == stat.start or _in_command(stat, roots)):
                reaped += _reap(pid)
        self._parents = parents
        self._adopted = {pid: start for pid, start in self._adopted.items() if pid in parents}
        return reaped

    def _adoptee(self, pid: int, stat: procs.Stat, roots: frozenset[int]) -> bool:
        before = self._parents.get(pid)
        if before is not None and before[0] == stat.start and before[1] != stat.ppid:
            return True  # it had another parent: adopted
        return _in_command(stat, roots) or procs.has_marker(pid)


def _in_command(stat: procs.Stat, roots: frozenset[int]) -> bool:
    return stat.session in roots or stat.pgrp in roots


def _reap(pid: int) -> int:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # someone else reaped it after all
        return 0
    return 1 if done == pid else 0
