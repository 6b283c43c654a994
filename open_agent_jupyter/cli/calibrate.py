"""``open-agent calibrate``: run a task set for real, compare with the estimates, tune them.

Each task runs through the local backend in a fresh folder ``WORKSPACE/runs/<time>/NN-name``;
the run's measured iterations, tokens, cost and success are set beside the estimator's
predictions, the estimator's parameters are fitted to them, and ``--write-tuning`` saves
the result to ``WORKSPACE/.open_agent/tuning.json``. Progress goes to stderr (a bar on a
terminal, one line per event otherwise); the table and the fit go to stdout. Ctrl-C stops the
running task and fits (and writes) with what was measured so far.

Exit codes: 0 done, 1 nothing could be measured, 2 usage or configuration error (one line,
no traceback), 130 interrupted by Ctrl-C (after fitting and writing the partial data).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..agent.estimate import FALLBACK_COMPLETION_PRICE, FALLBACK_PROMPT_PRICE, model_price
from ..agent.tuning import load_tuning, tuning_path, write_tuning
from ..calibration.fit import FITTED, Model, fit
from ..calibration.runner import Measurement, run_tasks
from ..calibration.tasks import CalibrationTask, builtin_tasks, load_tasks
from ..config import Settings
from ..exceptions import ConfigError, TasksFileError
from ..httpclient import async_client
from ..types import RunState

PROG = "open-agent calibrate"
NO_KEY = ("OPENROUTER_API_KEY is not set — calibration runs real tasks against the LLM; set it "
          "with `export OPENROUTER_API_KEY=sk-or-...` (any non-empty value for a local endpoint "
          "that needs no key)")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``calibrate`` subcommand."""
    parser = sub.add_parser(
        "calibrate", help="run a task set for real and tune the cost estimator",
        description="Run a small task set through the local agent, compare the estimator's "
                    "predictions with what the runs took, and fit its parameters.")
    parser.add_argument("--workspace", required=True, metavar="DIR",
                        help="folder for the runs (created if missing); the tuning file goes "
                             "to DIR/.open_agent/tuning.json")
    parser.add_argument("--model", metavar="M", help="model id (default: DEFAULT_MODEL)")
    parser.add_argument("--tasks", metavar="FILE",
                        help="YAML or JSON list of {name, task, check?} (default: built-in set)")
    parser.add_argument("--write-tuning", action="store_true",
                        help="write the fitted parameters to DIR/.open_agent/tuning.json")
    parser.add_argument("--max-iterations", type=int, metavar="N",
                        help="loop limit per task (default: MAX_ITERATIONS)")
    parser.add_argument("--budget-cents", type=int, metavar="N",
                        help="cost limit per task in US cents (default: BUDGET_CENTS)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    """Run the calibration; return the exit code."""
    try:
        settings = Settings.from_env().with_overrides(
            model=args.model, max_iterations=args.max_iterations, budget_cents=args.budget_cents)
        if not settings.api_key:
            raise ConfigError(NO_KEY)
        tasks = load_tasks(args.tasks) if args.tasks else builtin_tasks()
        workspace = prepare_workspace(args.workspace)
    except (ConfigError, TasksFileError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    tuning = load_tuning(workspace)
    if tuning.warning:
        print(f"{PROG}: warning: {tuning.warning}", file=sys.stderr)
    run_dir = new_run_dir(workspace)
    print(f"Calibrating {settings.model} on {len(tasks)} task(s) in {run_dir}", file=sys.stderr)
    measurements: list[Measurement] = []
    progress = ProgressBar(sys.stderr)
    price: dict[str, Any] = {}
    try:
        interrupted = asyncio.run(_calibrate(tasks, settings, run_dir, measurements, progress,
                                             price))
    except KeyboardInterrupt:  # Ctrl-C before our own handler was installed
        interrupted = True
    progress.close()
    model = Model(settings.max_iterations, settings.context_tokens,
                  price.get("price", (FALLBACK_PROMPT_PRICE, FALLBACK_COMPLETION_PRICE)))
    return _report(args, settings, workspace, tuning.params, model, measurements,
                   interrupted, len(tasks), bool(price.get("priced")))


def prepare_workspace(path: str) -> Path:
    """Create the workspace if needed and make sure it is writable (else ``ConfigError``)."""
    workspace = Path(path).expanduser().absolute()
    try:
        workspace.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=workspace):
            pass
    except OSError as exc:
        raise ConfigError(f"workspace {workspace} is not writable: "
                          f"{exc.strerror or exc}") from None
    return workspace


def new_run_dir(workspace: Path) -> Path:
    """A fresh, not yet existing folder for this run's task folders."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = workspace / "runs" / stamp
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{stamp}-{n}")
    return candidate


async def _calibrate(tasks: Sequence[CalibrationTask], settings: Settings, run_dir: Path,
                     measurements: list[Measurement], progress: ProgressBar,
                     price: dict[str, Any]) -> bool:
    """Run the tasks; True when Ctrl-C stopped them. Fills ``price`` for the fit."""
    async with async_client() as http:
        price["price"], price["priced"] = await model_price(settings, http)
    runner = asyncio.ensure_future(run_tasks(tasks, settings, run_dir, measurements, progress))
    ticker = asyncio.ensure_future(progress.tick_until(runner))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, runner.cancel)
    try:
        await runner
    except asyncio.CancelledError:
        return True
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await ticker
    return False


def _report(args: argparse.Namespace, settings: Settings, workspace: Path,
            start: dict[str, float], model: Model, measurements: list[Measurement],
            interrupted: bool, total: int, priced: bool) -> int:
    out = sys.stdout
    for m in measurements:
        m.predicted = model.predict(m.task, start)
    if measurements:
        print_table(measurements, out)
    if interrupted:
        print(f"\nInterrupted by Ctrl-C: using the {len(measurements)} of {total} task(s) "
              "measured before it.", file=out)
    if not any(m.usable for m in measurements):
        print("Nothing was measured (no task called the model); no parameters fitted.", file=out)
        return 130 if interrupted else 1
    params, report = fit(measurements, start, model)
    report.update(interrupted=interrupted, priced=priced)
    print_fit(report, start, params, out)
    if not priced:
        print("Note: the endpoint lists no price for this model; estimated costs use the "
              "fallback price.", file=out)
    if args.write_tuning:
        path = write_tuning(workspace, settings.model, params, report)
        print(f"Wrote {path}; tasks whose working dir is {workspace} now use it.", file=out)
    else:
        print(f"Not saved: add --write-tuning to write {tuning_path(workspace)}.", file=out)
    return 130 if interrupted else 0


def print_table(measurements: Sequence[Measurement], out: TextIO) -> None:
    """The predicted-versus-actual table, one row per task."""
    rows = [["task", "success", "iter est", "iter act", "tokens est", "tokens act",
             "cost est $", "cost act $"]]
    for m in measurements:
        p = m.predicted
        why = m.status if m.status != "completed" else "check failed"
        rows.append([m.name, "yes" if m.success else f"no ({why})",
                     str(p["iterations"]), str(m.iterations), f"{p['tokens']:,}",
                     f"{m.tokens:,}", f"{p['cost_usd']:.4f}", f"{m.cost_usd:.4f}"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(file=out)
    for row in rows:
        cells = [cell.ljust(width) if i < 2 else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip(), file=out)


def print_fit(report: dict[str, Any], start: dict[str, float], params: dict[str, float],
              out: TextIO) -> None:
    """The errors before and after the fit, and the parameters that moved."""
    print(f"\nFit over {report['tasks']} task(s) — mean relative error, before → after:", file=out)
    for key, label in (("iterations", "iterations"), ("tokens", "tokens"), ("cost_usd", "cost")):
        before, after = report["before"][key], report["after"][key]
        print(f"  {label:<11} {_pct(before):>8} → {_pct(after)}", file=out)
    moved = [f"{k} {start[k]:g} → {params[k]:.4g}" for k in FITTED if params[k] != start[k]]
    print("Parameters: " + ("; ".join(moved) if moved else "unchanged"), file=out)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


class ProgressBar:
    """Progress on stderr: a redrawn bar on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO, width: int = 20) -> None:
        self.out, self.width = out, width
        self.tty = out.isatty()
        self.index = self.total = 0
        self.name = ""
        self.started_at = time.monotonic()
        self.drawn = False
        self.state = RunState()

    def started(self, index: int, total: int, task: CalibrationTask) -> None:
        """A task begins."""
        self.index, self.total, self.name = index, total, task.name
        self.started_at = time.monotonic()
        if self.tty:
            self.update(RunState())
        else:
            self._line(f"[{index}/{total}] {task.name}: running")

    def update(self, state: RunState) -> None:
        """The running task made progress (redraws the bar on a terminal)."""
        self.state = state
        if not self.tty:
            return
        filled = round(self.width * (self.index - 1) / max(self.total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        text = (f"[{bar}] {self.index}/{self.total} {self.name} · iteration {state.iterations}"
                f" · {state.usage.total_tokens:,} tokens · ${state.usage.cost_usd:.4f}"
                f" · {time.monotonic() - self.started_at:.0f}s")
        columns = shutil.get_terminal_size().columns - 1
        self.out.write("\r\x1b[2K" + text[:columns])
        self.out.flush()
        self.drawn = True

    async def tick_until(self, runner: asyncio.Future[Any]) -> None:
        """Redraw every second while ``runner`` runs, so the elapsed time moves during calls."""
        while not runner.done():
            await asyncio.wait([runner], timeout=1.0)
            if self.drawn and not runner.done():
                self.update(self.state)

    def finished(self, index: int, total: int, m: Measurement) -> None:
        """A task ended: one permanent line saying how."""
        check = "" if m.check_output is None else (
            ", check passed" if m.success else ", check failed")
        text = (f"[{index}/{total}] {m.name}: {m.status}{check} · {m.iterations} iterations"
                f" · {m.tokens:,} tokens · ${m.cost_usd:.4f}"
                f" · {time.monotonic() - self.started_at:.0f}s")
        if m.error:
            text += f" — {m.error.splitlines()[0][:120]}"
        self._line(text)

    def close(self) -> None:
        """Clear a half-drawn bar."""
        if self.drawn:
            self.out.write("\r\x1b[2K")
            self.out.flush()
            self.drawn = False

    def _line(self, text: str) -> None:
        self.close()
        self.out.write(text + "\n")
        self.out.flush()
