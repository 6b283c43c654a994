"""``open-agent run "task"``: one task in this process, with a live log in the terminal.

Exit codes: 0 completed, 1 failed, 2 usage or configuration error, 130 stopped by Ctrl-C
(the task and its commands are stopped first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any, TextIO

from ..agent.events import LogEntry
from ..backends import make_backend
from ..config import PRESETS, Settings
from ..exceptions import ConfigError
from ..tasks.limits import check_model
from ..types import NotebookContext, Outcome, RunState
from .prompt import gate_for

RESULT_PREVIEW_LINES = 8


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``run`` subcommand."""
    parser = sub.add_parser("run", help="run one task here and print its live log",
                            description="Run one task in this process and print its live log.")
    parser.add_argument("task", nargs="+", help="what the agent should do")
    parser.add_argument("--model", help="model id (default: DEFAULT_MODEL)")
    parser.add_argument("--working-dir", help="working directory (default: WORKING_DIR or .)")
    parser.add_argument("--max-iterations", type=int, help="loop limit (default: MAX_ITERATIONS)")
    parser.add_argument("--budget-cents", type=int, help="cost budget in US cents (default 1000)")
    parser.add_argument("--backend", choices=["local", "opencode"], help="default: AGENT_BACKEND")
    parser.add_argument("--approvals", choices=PRESETS,
                        help="ask before risky tool calls (ask: a y/n/always prompt), deny them "
                             "(read-only) or not (auto); default: APPROVALS")
    parser.add_argument("--approval-timeout", type=float, metavar="SECONDS",
                        help="an unanswered prompt is a denial after this long "
                             "(default: APPROVAL_TIMEOUT; 0 without a terminal)")
    parser.add_argument("--json", action="store_true", help="print one JSON log entry per line")
    parser.add_argument("--export", metavar="FILE.ipynb",
                        help="also write the task as a notebook when it ends")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Run the task; return the exit code."""
    try:
        settings = Settings.from_env(working_dir=".").with_overrides(
            model=args.model, working_dir=args.working_dir, max_iterations=args.max_iterations,
            budget_cents=args.budget_cents, backend=args.backend,
            approval_timeout=args.approval_timeout)
        check_model(settings)
    except ConfigError as exc:
        print(f"open-agent run: {exc}", file=sys.stderr)
        return 2
    if args.export and not os.path.isdir(os.path.dirname(os.path.abspath(args.export))):
        print(f"open-agent run: cannot write {args.export}: its folder does not exist",
              file=sys.stderr)
        return 2
    if settings.backend == "local" and not settings.api_key:
        print("open-agent run: no API key — set it with `export OPENROUTER_API_KEY=sk-or-...`",
              file=sys.stderr)
        return 1
    state = RunState()
    printer = (JsonPrinter if args.json else LogPrinter)(sys.stdout, state)
    printer.export_to = args.export
    try:
        # With --json the prompt goes to stderr: stdout stays one JSON object per line.
        prompt_out = sys.stderr if args.json else sys.stdout
        state.approver = gate_for(settings, args.approvals, printer, prompt_out)
    except ConfigError as exc:
        print(f"open-agent run: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(" ".join(args.task), settings, printer, state))


def notebook_context(settings: Settings) -> NotebookContext:
    """The CLI's notebook tools: a kernel of the task's own (jupyter_client), started at the
    first ``python`` call in the working dir; notebook files read and edited with nbformat."""
    from ..access.launch import LaunchedKernel
    from ..access.notebooks import FileNotebooks
    from ..access.subshell import SubshellKernel

    folder = os.path.expanduser(settings.working_dir)
    return NotebookContext(SubshellKernel(LaunchedKernel(folder)), FileNotebooks(folder))


async def _run(task: str, settings: Settings, printer: LogPrinter, state: RunState) -> int:
    if settings.backend == "local":
        state.notebook = notebook_context(settings)
    try:
        return await _follow(task, settings, printer, state)
    finally:
        if state.notebook is not None:
            await state.notebook.kernel.close()  # shuts the task's kernel down


async def _follow(task: str, settings: Settings, printer: LogPrinter, state: RunState) -> int:
    runner = asyncio.ensure_future(make_backend(settings.backend).run(task, settings, printer,
                                                                     state))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, runner.cancel)
    try:
        outcome = await runner
    except asyncio.CancelledError:
        outcome = Outcome("cancelled", error="stopped by Ctrl-C")
    finally:
        loop.remove_signal_handler(signal.SIGINT)
    printer.done(outcome, state)
    if printer.export_to:
        from .export import write_run

        write_run(printer.export_to, task, settings, outcome, state, printer.entries)
    if outcome.status == "cancelled" and outcome.error == "stopped by Ctrl-C":
        return 130
    return 0 if outcome.status == "completed" else 1


class LogPrinter:
    """A log sink that prints entries for a person reading a terminal."""

    def __init__(self, out: TextIO, state: RunState) -> None:
        self.out = out
        self.state = state
        self.seq = 0
        #: the last tool_output left its line unfinished
        self.open_line = False
        #: ``--export FILE``: the entries are kept to write the task as a notebook at the end
        self.export_to: str | None = None
        self.entries: list[dict[str, Any]] = []

    async def __call__(self, entry: LogEntry) -> None:
        if self.seq == 0:
            self.started()
        self.seq += 1
        entry.seq = self.seq
        if self.export_to:
            self.entries.append(entry.to_dict())
        self.show(entry)

    def started(self) -> None:
        """Print the estimate once the backend has made it (before the first entry)."""
        estimate = self.state.estimate or {}
        if "iterations" in estimate:
            print(f"estimate: {estimate.get('level', '')} complexity, "
                  f"≈{estimate['iterations']} iterations, ≈{estimate.get('tokens', 0):,} tokens, "
                  f"≈${estimate.get('cost_usd', 0):.4f}", file=self.out, flush=True)

    def show(self, entry: LogEntry) -> None:
        """Print one entry (a command's output as it comes, unindented)."""
        kind = entry.entry_type
        if kind == "tool_output":
            self.out.write(entry.content)
            self.out.flush()
            self.open_line = not entry.content.endswith("\n")
            return
        if self.open_line:
            self.out.write("\n")
            self.open_line = False
        if kind == "notice":
            line = f"! {entry.content}"
        elif kind == "tool_call":
            line = f"→ {entry.content}"
        elif kind == "tool_result":
            mark = "ok" if entry.ok else "error"
            line = f"  ← {mark} ({entry.duration_ms:.0f} ms) {_preview(entry.content)}"
        elif kind == "thinking":
            line = f"… {entry.content.strip()}"
        elif kind == "error":
            line = f"✗ {entry.content}"
        elif kind == "approval":
            line = f"  ⚑ {entry.content}"
        else:
            line = f"\n{entry.content.strip()}\n"
        print(line, file=self.out, flush=True)

    def done(self, outcome: Outcome, state: RunState) -> None:
        """Print the closing line: status, iterations, tokens, cost, estimate."""
        usage = state.usage
        line = (f"── {outcome.status} · {_plural(state.iterations, 'iteration')} · "
                f"{usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion tokens · "
                f"${usage.cost_usd:.4f}")
        estimate = state.estimate or {}
        if "iterations" in estimate:
            line += (f" (estimated {_plural(estimate['iterations'], 'iteration')}, "
                     f"${estimate.get('cost_usd', 0):.4f})")
        if outcome.status != "completed" and outcome.error:
            line += f"\n   reason: {outcome.error}"
        print(line, file=self.out, flush=True)


class JsonPrinter(LogPrinter):
    """A log sink that prints one JSON object per line (entries, then a ``done`` object)."""

    def started(self) -> None:
        """The estimate is in the final ``done`` object."""

    def show(self, entry: LogEntry) -> None:
        """Print the entry as JSON."""
        print(json.dumps(entry.to_dict(), ensure_ascii=False), file=self.out, flush=True)

    def done(self, outcome: Outcome, state: RunState) -> None:
        """Print the final ``done`` object."""
        data: dict[str, Any] = {"event": "done", "status": outcome.status,
                                "result": outcome.result, "error": outcome.error,
                                "iterations": state.iterations, "usage": state.usage.to_dict(),
                                "estimate": state.estimate}
        print(json.dumps(data, ensure_ascii=False), file=self.out, flush=True)


def _preview(text: str) -> str:
    lines = text.strip().splitlines()
    shown = "\n    ".join(lines[:RESULT_PREVIEW_LINES])
    more = len(lines) - RESULT_PREVIEW_LINES
    return shown + (f"\n    … {more} more lines" if more > 0 else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
