"""Test helpers: real processes (to check nothing is left running) and a recording log sink."""

from __future__ import annotations

import os
from pathlib import Path

from open_agent_jupyter.agent.events import LogEntry


def processes_running(fragment: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line contains ``fragment``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if fragment in cmdline and state != "Z" and int(proc.name) != os.getpid():
            found.append(int(proc.name))
    return found


class Recorder:
    """A log sink that keeps the entries in order."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []

    async def __call__(self, entry: LogEntry) -> None:
        self.entries.append(entry)

    def of(self, kind: str) -> list[LogEntry]:
        """The entries of one ``entry_type``."""
        return [e for e in self.entries if e.entry_type == kind]
