"""``open-agent export ID -o FILE.ipynb``: a task as a notebook (see ``tasks.export``).

The task is read from a server's API (``--server URL [--token T]``, else ``OPEN_AGENT_URL``
/ ``OPEN_AGENT_TOKEN`` when set) or straight from a task database (``--db PATH``, else
``OPEN_AGENT_LOCAL_DB``, else the Jupyter server's default ``<jupyter data dir>/open_agent/
tasks.db``). Without ``-o`` the file is named after the task, in the current folder;
``-o -`` prints it. Exit codes: 0 written, 1 no such task / server or database unreadable,
2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError, OpenAgentError, TaskNotFoundError
from ..tasks.export import dumps, filename, task_notebook


class ExportError(Exception):
    """The task could not be read (exit code 1)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the ``export`` subcommand."""
    parser = sub.add_parser("export", help="write a task as a Jupyter notebook",
                            description="Write a task (its log) as a Jupyter notebook.")
    parser.add_argument("task_id", metavar="ID", help="the task's id")
    parser.add_argument("-o", "--output", metavar="FILE.ipynb",
                        help="where to write it (default: named after the task; - prints it)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--server", metavar="URL", help="a Jupyter server with the extension")
    source.add_argument("--db", metavar="PATH", help="a task database file")
    parser.add_argument("--token", metavar="T", help="the server's token")
    parser.set_defaults(handler=main, parser=parser)


def main(args: argparse.Namespace) -> int:
    """Export the task; return the exit code."""
    output = args.output
    if output not in (None, "-") and not _writable(Path(output)):
        return _usage(args, f"cannot write {output}: its folder does not exist")
    if args.token and args.db:
        return _usage(args, "--token goes with --server, not with --db")
    try:
        task = _read_task(args)
    except ExportError as exc:
        print(f"open-agent export: {exc}", file=sys.stderr)
        return 1
    text = dumps(task_notebook(task))
    if output == "-":
        sys.stdout.write(text)
        return 0
    target = Path(output) if output else Path(filename(task))
    if target.is_dir():
        target = target / filename(task)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"open-agent export: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{target} ({len(task.get('log') or [])} log entries, {task.get('status')})")
    return 0


def _read_task(args: argparse.Namespace) -> dict[str, Any]:
    url = args.server or (None if args.db else os.environ.get("OPEN_AGENT_URL"))
    if url:
        return _from_server(url, args.token, args.task_id)
    db = args.db or os.environ.get("OPEN_AGENT_LOCAL_DB") or _default_db()
    return asyncio.run(_from_db(Path(db), args.task_id))


def _from_server(url: str, token: str | None, task_id: str) -> dict[str, Any]:
    from ..notebook.client import AgentClient

    try:
        with AgentClient(url, token) as client:
            return client.get(task_id)
    except TaskNotFoundError:
        raise ExportError(f"no task with id {task_id!r} on {url}") from None
    except (OpenAgentError, ConfigError, ValueError) as exc:
        raise ExportError(f"{url}: {exc}") from None


async def _from_db(path: Path, task_id: str) -> dict[str, Any]:
    from ..tasks.store import TaskStore

    if not path.is_file():
        raise ExportError(f"no task database at {path} (pass --db PATH or --server URL)")
    store = TaskStore(path)
    try:
        await store.open()
        task = await store.get_task(task_id)
        if task is None:
            raise ExportError(f"no task with id {task_id!r} in {path}")
        return task.to_dict(log=await store.get_log(task_id))
    except (ConfigError, sqlite3.Error, OSError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None
    finally:
        await store.close()


def _default_db() -> str:
    from jupyter_core.paths import jupyter_data_dir

    return str(Path(jupyter_data_dir()) / "open_agent" / "tasks.db")


def _writable(path: Path) -> bool:
    return path.is_dir() or path.parent.is_dir()


def _usage(args: argparse.Namespace, message: str) -> int:
    args.parser.print_usage(sys.stderr)
    print(f"open-agent export: error: {message}", file=sys.stderr)
    return 2


def write_run(path: str, task: str, settings: Any, outcome: Any, state: Any,
              entries: list[dict[str, Any]]) -> None:
    """``open-agent run --export FILE``: the task that just ran (never stored) as a notebook."""
    data = {"id": None, "status": outcome.status, "task": task, "model": settings.model,
            "backend": settings.backend, "working_dir": os.path.abspath(
                os.path.expanduser(settings.working_dir)),
            "iterations": state.iterations, "max_iterations": settings.max_iterations,
            "usage": state.usage.to_dict(), "result": outcome.result, "error": outcome.error,
            "log": entries}
    try:
        Path(path).write_text(dumps(task_notebook(data)), encoding="utf-8")
    except OSError as exc:
        print(f"open-agent run: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return
    print(f"notebook: {path}", file=sys.stderr)

