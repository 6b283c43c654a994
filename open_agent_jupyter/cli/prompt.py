"""Approvals in ``open-agent run``: a y / n / always prompt on the terminal.

``TerminalDesk`` is the ``ApprovalDesk`` of the CLI: a pending approval is asked on the
terminal and the answer read from stdin without a thread (``loop.add_reader``), so the
timeout and Ctrl-C end the wait at once. Answers: ``y`` (allow), ``a`` / ``always``
(allow, and the same calls for the rest of the task), ``n`` (deny; words after it, as in
``n use the other file``, are the message the model reads). Anything else asks again.
Without a terminal on stdin nobody can answer, so ``gate_for`` makes every ``ask`` a
denial at once (timeout 0), as DESIGN.md §12.5 says.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from typing import Any, TextIO

from ..agent.approval import Gate, decided
from ..agent.policy import configured_preset, parse_rules, task_policy
from ..config import Settings
from ..types import LogSink

PROMPT = "allow {tool}({args})? [y]es / [n]o (+ reason) / [a]lways: "


def short_arguments(arguments: Any, limit: int = 100) -> str:
    """``key=value, ...`` on one line, cut to ``limit`` characters."""
    items = arguments.items() if isinstance(arguments, dict) else ()
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in items)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user() -> str:
    """The person at the terminal."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return str(os.getuid())


def parse_answer(text: str) -> tuple[str, bool, str | None] | None:
    """``(decision, remember, message)`` of a typed answer; None when it is not one."""
    word, _, rest = text.strip().partition(" ")
    word = word.lower()
    if word in ("y", "yes"):
        return "allowed", False, None
    if word in ("a", "always"):
        return "allowed", True, None
    if word in ("n", "no"):
        return "denied", False, rest.strip() or None
    return None


class TerminalDesk:
    """Asks each pending approval on the terminal (``stdin`` must be one)."""

    def __init__(self, out: TextIO, stdin: TextIO | None = None) -> None:
        self.out = out
        self.stdin = stdin or sys.stdin

    async def opened(self, record: dict[str, Any]) -> None:
        """Nothing to keep: the answer comes from this terminal."""

    async def settled(self, record: dict[str, Any]) -> None:
        """Nothing to keep: the log shows the decision."""

    async def wait(self, record: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """Prompt until a valid answer or ``timeout`` seconds; None on timeout."""
        args = short_arguments(record.get("arguments"), 100)
        try:
            return await asyncio.wait_for(self._ask(record, args), timeout)
        except asyncio.TimeoutError:
            print("\n  (no answer in time)", file=self.out, flush=True)
            return None

    async def _ask(self, record: dict[str, Any], args: str) -> dict[str, Any]:
        while True:
            print(PROMPT.format(tool=record["tool"], args=args), end="", file=self.out,
                  flush=True)
            answer = parse_answer(await self._line())
            if answer is not None:
                status, remember, message = answer
                return {**decided(record, status, "person", user(), message),
                        "remember": remember}

    async def _line(self) -> str:
        loop = asyncio.get_running_loop()
        fd = self.stdin.fileno()
        got: asyncio.Future[str] = loop.create_future()

        def readable() -> None:
            data = os.read(fd, 4096)
            if not got.done():
                got.set_result(data.decode(errors="replace") if data else "n (end of input)")

        loop.add_reader(fd, readable)
        try:
            return await got
        finally:
            loop.remove_reader(fd)


def gate_for(settings: Settings, requested: str | None, sink: LogSink,
             out: TextIO) -> Gate:
    """The approval gate of a CLI task (``ConfigError`` for a preset looser than the max)."""
    base = configured_preset(settings.approvals, settings.backend, settings.opencode_permissive)
    policy = task_policy(base, settings.approvals_max, parse_rules(settings.approval_rules),
                         requested)
    timeout = settings.approval_timeout if sys.stdin.isatty() else 0.0
    return Gate(policy, TerminalDesk(out), sink, timeout)
