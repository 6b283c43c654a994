"""Run calibration tasks through the real local backend and measure what they took.

Each task runs in its own fresh folder (``RUN_DIR/NN-name``) with the settings given (the
caller sets model, limits and key); afterwards its ``check`` command, if any, runs in that
folder. Measurements are appended to the caller's list as each task ends, so a run that is
cancelled (Ctrl-C) keeps every finished task's figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..agent.events import LogEntry
from ..backends import make_backend
from ..config import Settings
from ..types import RunState
from .tasks import CalibrationTask

#: Seconds a task's check command may run.
CHECK_TIMEOUT = 300.0


@dataclass
class Measurement:
    """What one calibration task took, and whether it succeeded."""

    name: str
    task: str
    folder: str
    status: str
    success: bool
    iterations: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    error: str | None = None
    check_output: str | None = None
    predicted: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def usable(self) -> bool:
        """Whether it can be fitted against (the model was called at least once)."""
        return self.iterations > 0 and self.tokens > 0


class Progress(Protocol):
    """Told what the run is doing (the CLI draws a progress bar from it)."""

    def started(self, index: int, total: int, task: CalibrationTask) -> None: ...

    def update(self, state: RunState) -> None: ...

    def finished(self, index: int, total: int, measurement: Measurement) -> None: ...


def task_folder(run_dir: Path, index: int, task: CalibrationTask) -> Path:
    """The fresh folder of the ``index``-th task (1-based)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", task.name).strip("-.")[:40] or "task"
    return run_dir / f"{index:02d}-{slug}"


async def run_tasks(tasks: Sequence[CalibrationTask], settings: Settings, run_dir: Path,
                    measurements: list[Measurement], progress: Progress) -> None:
    """Run every task in turn, appending one measurement per finished task."""
    for index, task in enumerate(tasks, start=1):
        progress.started(index, len(tasks), task)
        measurement = await run_one(task, settings, task_folder(run_dir, index, task), progress)
        measurements.append(measurement)
        progress.finished(index, len(tasks), measurement)


async def run_one(task: CalibrationTask, settings: Settings, folder: Path,
                  progress: Progress) -> Measurement:
    """Run one task in ``folder`` (created empty) and measure it."""
    folder.mkdir(parents=True)
    state = RunState()

    async def sink(entry: LogEntry) -> None:
        progress.update(state)

    backend = make_backend("local")
    try:
        outcome = await backend.run(task.task, settings.with_overrides(working_dir=str(folder)),
                                    sink, state)
        status, error = outcome.status, outcome.error
    except Exception as exc:  # noqa: BLE001 — one broken task must not lose the others' figures
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    success, check_output = status == "completed", None
    if task.check:
        success, check_output = await run_check(task.check, folder)
    usage = state.usage
    return Measurement(
        name=task.name, task=task.task, folder=str(folder), status=status, success=success,
        iterations=state.iterations, prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens, cost_usd=usage.cost_usd, error=error,
        check_output=check_output,
    )


async def run_check(command: str, folder: Path) -> tuple[bool, str]:
    """Run a check command in ``folder``: (exit status was 0, the tail of its output)."""
    proc = await asyncio.create_subprocess_shell(
        command, cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CHECK_TIMEOUT)
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(proc.pid)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return False, f"check timed out after {CHECK_TIMEOUT:g} s"
    return proc.returncode == 0, out.decode(errors="replace")[-2000:]


def _kill_group(pid: int) -> None:
    # The check runs in its own session, so its whole process tree goes with it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
