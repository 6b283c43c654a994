"""Export of a 500-step task as a notebook (on demand). Target: under 1 s.

    python benchmarks/bench_export.py [--steps 500] [--runs 5] [--result-chars 2000]

Builds the JSON of a finished task (``GET /api/task/{id}``) with ``--steps`` tool calls in
the shapes the tools record — ``run_command``, ``write_file``, ``python`` with an image
output, ``read_file`` — each with a result of ``--result-chars`` characters and a line of
model text, then times ``task_notebook`` + ``dumps`` (what ``GET /api/task/{id}/notebook``
and ``open-agent export`` do). The reference, same run: ``json.dumps`` of the task itself
(what ``GET /api/task/{id}`` sends). Median of ``--runs``.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from open_agent_jupyter.tasks.export import dumps, task_notebook  # noqa: E402

PNG = base64.b64encode(bytes(range(256)) * 40).decode()  # ~13 kB of image data


def step(n: int, result_chars: int) -> list[dict[str, Any]]:
    """One LLM step: a line of text, a tool call and its result."""
    body = f"line of output {n}\n" * (result_chars // 20)
    kind = n % 4
    if kind == 0:
        tool, args, extra = "run_command", {"command": f"pytest -q tests/test_{n}.py"}, {}
        content = f"Exit code: 0\nstdout:\n{body}"
    elif kind == 1:
        tool, args, extra = "write_file", {"path": f"pkg/mod_{n}.py", "content": body}, {}
        content = f"Created /work/pkg/mod_{n}.py ({len(body)} bytes written)"
    elif kind == 2:
        tool, args = "python", {"code": f"df_{n} = load({n})\nplot(df_{n})"}
        extra = {"outputs": [{"image/png": PNG, "text/plain": "<Figure size 640x480>"}]}
        content = body
    else:
        tool, args, extra, content = "read_file", {"path": f"pkg/mod_{n}.py"}, {}, body
    call_id = f"call_{n}"
    return [{"entry_type": "thinking", "content": f"Step {n}: next I will use {tool}."},
            {"entry_type": "tool_call", "tool": tool, "call_id": call_id, "arguments": args,
             "content": f"{tool}(...)"},
            {"entry_type": "tool_result", "tool": tool, "call_id": call_id, "ok": True,
             "duration_ms": 12.5, "content": content, **extra}]


def make_task(steps: int, result_chars: int) -> dict[str, Any]:
    """A finished task's JSON with ``steps`` steps."""
    log = [entry for n in range(steps) for entry in step(n, result_chars)]
    log.append({"entry_type": "response", "content": "All done."})
    for seq, entry in enumerate(log, 1):
        entry.update(seq=seq, timestamp="2026-01-01T00:00:00+00:00")
    return {"id": "0b3c5d6e-0000-4000-8000-000000000000", "status": "completed",
            "task": "A long task", "model": "fake/model", "backend": "local",
            "working_dir": "/work", "iterations": steps, "max_iterations": steps + 1,
            "usage": {"prompt_tokens": 10**6, "completion_tokens": 10**4, "cost_usd": 3.15},
            "result": "All done.", "error": None, "log": log}


def median_seconds(fn: Any, runs: int) -> tuple[float, Any]:
    """The median wall time of ``fn()`` over ``runs`` runs, and its last value."""
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--result-chars", type=int, default=2000)
    args = parser.parse_args()
    task = make_task(args.steps, args.result_chars)
    export_s, text = median_seconds(lambda: dumps(task_notebook(task)), args.runs)
    reference_s, _ = median_seconds(lambda: json.dumps(task), args.runs)
    cells = len(json.loads(text)["cells"])
    print(f"task: {args.steps} steps, {len(task['log'])} log entries, "
          f"{len(json.dumps(task)) / 1e6:.1f} MB as JSON")
    print(f"export (task_notebook + dumps): {export_s * 1000:8.1f} ms  "
          f"-> {cells} cells, {len(text) / 1e6:.1f} MB   target < 1000 ms  "
          f"{'OK' if export_s < 1 else 'SLOW'}")
    print(f"reference (json.dumps of the task): {reference_s * 1000:8.1f} ms  "
          f"ratio {export_s / reference_s:.1f}x")
    try:
        import nbformat
    except ImportError:
        return
    validate_s, _ = median_seconds(
        lambda: nbformat.validate(nbformat.reads(text, as_version=nbformat.NO_CONVERT)), 1)
    print(f"for information, nbformat read + validate: {validate_s * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
