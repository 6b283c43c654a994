"""Processes named so that a reused PID is never hit, and the commands each task started.

A process is named by its PID *and* its start time (``boot id:clock ticks since boot``
from ``/proc``): the same PID with another start time is another process. Commands of a
task run with ``TASK_ENV`` set to ``<task id>:<n>.`` in their environment, which every child
inherits (``setsid`` and double forks included), and their process groups are recorded
through a ``ProcessWatch`` (the ``run_command`` tool takes a ``Command`` from it, puts
its marker in the environment, reports the PID it spawned and calls ``kill``). To
kill "everything a task started", ``kill_task`` signals the recorded groups whose leader
still has its recorded start time and every process whose environment carries the
task's id — through a pidfd opened *before* the check, so the signal reaches the process
that was checked. A ``/proc`` without those files (not Linux) kills the groups only.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: The variable naming the task in the environment of every command it runs.
TASK_ENV = "OPEN_AGENT_TASK_ID"
_PROC = Path("/proc")
#: Command leaders remembered (the reaper never touches them: asyncio waits for them).
MAX_ROOTS = 4096
_roots: dict[int, None] = {}


def boot_id() -> str:
    """This machine's boot id ("" where /proc has none)."""
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """``boot id:start ticks`` of a live process, None when there is no such process."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # a zombie is gone as far as its work goes
        return None
    return f"{boot_id()}:{fields[19]}"


@dataclass(frozen=True)
class Stat:
    """What ``/proc/PID/stat`` says of a process (a zombie's too)."""

    state: str
    ppid: int
    pgrp: int
    session: int
    start: str


def read_stat(pid: int) -> Stat | None:
    """The process's state, parent, group, session and start; None when it is gone."""
    try:  # os.read, not pathlib: a sweep reads this for every process on the machine
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
        fields = data.rsplit(b")", 1)[1].decode().split()
    except (OSError, IndexError):
        return None
    return Stat(fields[0], int(fields[1]), int(fields[2]), int(fields[3]), fields[19])


def pids() -> Iterator[int]:
    """The PIDs in /proc now."""
    return _pids()


def has_marker(pid: int) -> bool:
    """Whether the process was started by a task's command (its environment says so)."""
    return _has_marker(pid, f"{TASK_ENV}=".encode())


def command_roots() -> frozenset[int]:
    """PIDs that led a task's command in this process (the latest ``MAX_ROOTS``)."""
    return frozenset(_roots)


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError):
        for entry in os.scandir(_PROC):
            if entry.name.isdigit():
                yield int(entry.name)


def _has_marker(pid: int, marker: bytes) -> bool:
    """Whether an entry of ``pid``'s environment starts with ``marker``."""
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return environ.startswith(marker) or b"\0" + marker in environ


def _signal_if(pid: int, check: Callable[[], bool]) -> bool:
    """SIGKILL ``pid`` if ``check()`` holds for it, through a pidfd opened before the check."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        if not check():
            return False
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def kill_group(pid: int, started: str) -> bool:
    """SIGKILL the process group led by ``pid`` if that leader still has start ``started``."""
    if process_start(pid) != started:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
        return True
    return False


def kill_marked(prefix: str) -> int:
    """SIGKILL every process whose marker starts with ``prefix``; return how many."""
    marker = f"{TASK_ENV}={prefix}".encode()
    me = os.getpid()
    killed = 0
    for pid in _pids():
        if pid != me and _has_marker(pid, marker):
            killed += _signal_if(pid, lambda pid=pid: _has_marker(pid, marker))
    return killed


def kill_task(task_id: str, groups: list[tuple[int, str]]) -> int:
    """Kill the task's recorded groups ``(pid, start)`` and its marked processes."""
    killed = sum(kill_group(pid, started) for pid, started in groups)
    return killed + kill_marked(f"{task_id}:")


@dataclass
class Command:
    """One command of a task: its marker, and the group it leads once spawned."""

    watch: ProcessWatch
    marker: str
    pid: int | None = None
    started: str | None = None
    #: its group is in the store (the manager writes new groups at its next tick)
    stored: bool = False

    @property
    def env(self) -> dict[str, str]:
        """What the command's environment adds: its marker."""
        return {TASK_ENV: self.marker}

    def spawned(self, pid: int) -> None:
        """The command started as the leader of process group ``pid``: record it."""
        self.pid, self.started = pid, process_start(pid)
        _roots[pid] = None
        while len(_roots) > MAX_ROOTS:
            del _roots[next(iter(_roots))]

    def kill(self) -> int:
        """Kill the command's group and every process carrying its marker (blocking: /proc)."""
        killed = kill_group(self.pid, self.started) if self.pid and self.started else 0
        return killed + kill_marked(self.marker)


@dataclass
class ProcessWatch:
    """The commands of one task (``unstored()`` gives the groups to record in the store)."""

    task_id: str
    commands: list[Command] = field(default_factory=list)

    def command(self) -> Command:
        """A new command of this task (its marker is ``<task id>:<n>.``)."""
        command = Command(self, f"{self.task_id}:{len(self.commands) + 1}.")
        self.commands.append(command)
        return command

    def unstored(self) -> list[Command]:
        """Commands whose group is not recorded in the store yet."""
        return [c for c in self.commands if c.started and not c.stored]

    def kill(self) -> int:
        """Kill everything this task's commands started that still runs (blocking: /proc)."""
        groups = [(c.pid, c.started) for c in self.commands if c.pid and c.started]
        return kill_task(self.task_id, groups)  # type: ignore[arg-type]


_current: contextvars.ContextVar[ProcessWatch | None] = contextvars.ContextVar(
    "open_agent_process_watch", default=None)


def current_watch() -> ProcessWatch:
    """The watch of the task this code runs for (outside a task, a watch of its own)."""
    return _current.get() or ProcessWatch(uuid.uuid4().hex)


def set_watch(watch: ProcessWatch | None) -> contextvars.Token[ProcessWatch | None]:
    """Make ``watch`` the current one in this context (the manager, as a task starts)."""
    return _current.set(watch)
