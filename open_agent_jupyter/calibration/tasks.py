"""The calibration task set: the built-in one, or a user's YAML/JSON file.

A tasks file is a list of entries ``{name, task, check?}``::

    - name: hello-world
      task: Create hello.py that prints Hello World.
      check: python hello.py | grep -q "Hello World"

``task`` (required) is what the agent is asked; ``name`` (optional, default ``task-N``) names
the task's sub-folder and table row; ``check`` (optional) is a shell command run in the
task's folder afterwards — exit status 0 means the task succeeded (without a check, success
means the agent completed). JSON files hold the same list. Any mistake raises
``TasksFileError`` naming the file, the line (and entry) and what is wrong.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import TasksFileError

FIELDS = ("name", "task", "check")


@dataclass(frozen=True)
class CalibrationTask:
    """One task of the set."""

    name: str
    task: str
    check: str | None = None


def builtin_tasks() -> list[CalibrationTask]:
    """The small built-in set: a script, a CLI calculator, a tiny package with passing tests."""
    py = shlex.quote(sys.executable)
    return [
        CalibrationTask(
            "hello-world",
            "Create a Python script hello.py that prints Hello World, and run it to check.",
            f'{py} hello.py | grep -q "Hello World"',
        ),
        CalibrationTask(
            "cli-calculator",
            "Create calc.py, a small command-line calculator: `python calc.py 2 + 3` prints 5. "
            "Support +, -, x (multiply) and / on integers and decimals; division by zero prints "
            "an error to stderr and exits with status 1. Try it out.",
            f'test "$({py} calc.py 2 + 3)" = 5 && test "$({py} calc.py 7 - 10)" = -3 '
            f"&& ! {py} calc.py 1 / 0 2>/dev/null",
        ),
        CalibrationTask(
            "tiny-package",
            "Create a tiny Python package `stats` (stats/__init__.py) with functions mean(values) "
            "and median(values), then write pytest tests in tests/test_stats.py covering odd and "
            "even lengths and an empty list (ValueError). Run pytest and fix until it passes.",
            f"{py} -m pytest -q -p no:cacheprovider",
        ),
    ]


def load_tasks(path: str | Path) -> list[CalibrationTask]:
    """Read a YAML or JSON tasks file; ``TasksFileError`` says where and what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise TasksFileError(f"cannot read tasks file {path}: {reason}") from None
    if path.suffix.lower() == ".json":
        _check_json(path, text)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise TasksFileError(_yaml_message(path, exc)) from None
    except yaml.YAMLError as exc:
        raise TasksFileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(root, yaml.SequenceNode):
        kind = "empty" if root is None else f"a {_kind(root)}"
        raise TasksFileError(
            f"{path}: must be a list of tasks (entries with name, task, check), but it is {kind}"
        )
    if not root.value:
        raise TasksFileError(f"{path}: the list of tasks is empty")
    return [_entry(path, i, node) for i, node in enumerate(root.value, start=1)]


def _entry(path: Path, index: int, node: yaml.Node) -> CalibrationTask:
    where = f"{path} line {node.start_mark.line + 1} (entry {index})"
    if not isinstance(node, yaml.MappingNode):
        raise TasksFileError(f"{where}: an entry must be a mapping with name, task, check, "
                             f"not a {_kind(node)}")
    data: dict[str, Any] = yaml.SafeLoader("").construct_document(node)
    unknown = [str(k) for k in data if k not in FIELDS]
    if unknown:
        raise TasksFileError(f"{where}: unknown field {unknown[0]!r} "
                             f"(allowed: {', '.join(FIELDS)})")
    task = data.get("task")
    if task is None:
        raise TasksFileError(f"{where}: missing field 'task' (what the agent should do)")
    for key in FIELDS:
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise TasksFileError(f"{where}: field {key!r} must be a non-empty string, "
                                 f"not {value!r}")
    name = data.get("name") or f"task-{index}"
    return CalibrationTask(name=name.strip(), task=task.strip(), check=data.get("check"))


def _check_json(path: Path, text: str) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise TasksFileError(
            f"{path} line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"
        ) from None


def _yaml_message(path: Path, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{path} line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    message = f"{where}: not valid YAML: {exc.problem or exc}"
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        message += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
    return message


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return f"scalar ({node.value!r})"
