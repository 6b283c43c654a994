"""Helpers to look at real processes (for tests that check nothing is left running)."""

from __future__ import annotations

from pathlib import Path


def processes_running(fragment: str) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line contains ``fragment``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if fragment in cmdline and state != "Z":
            found.append(int(proc.name))
    return found
