"""``%agent``, ``%%agent`` and ``%agent_panel`` (``%load_ext open_agent_jupyter``).

``%agent [options] TASK`` / ``%%agent [options]`` with the cell body as the task.
``{name}`` in the task is filled from the notebook's variables (``{{`` for a literal
brace; braces around anything else, such as JSON, stay as written: see ``fill_task``). Where the task runs: ``--server URL`` or ``OPEN_AGENT_URL`` (exported by the
server extension to the kernels it starts) → that server's REST API; otherwise (or with
``--local``) the same engine inside the kernel. The cell waits until the task ends while
the widget updates and its Stop button works (in a kernel the wait is an ``await``, see
``awaiting``); interrupting the kernel stops the task; ``--background`` returns at once.
The value is an ``AgentResult``.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..config import BACKENDS, PRESETS
from ..exceptions import ConfigError, OpenAgentError
from .fill import fill_task
from .result import AgentResult, TaskAPI
from .sse import APIError, ServerUnreachableError

#: The user-namespace name of the last ``%agent`` result (also set when a cell is interrupted).
LAST_RESULT = "_agent"
#: Options that take no value (everything else takes one).
_FLAGS = {"--background", "--local"}
_OVERRIDES = ("model", "max_iterations", "budget_cents", "working_dir", "backend", "approvals",
              "approval_timeout")


BLOCKING_REASON = ("Stop is unavailable: this cell blocks the kernel (%agent inside a function "
                   "or loop, or loaded in the same cell); interrupt the kernel (■) to stop")


class TaskInterrupted(KeyboardInterrupt):
    """The cell was interrupted and its task stopped; shown as its one-line message.

    Still a ``KeyboardInterrupt``, so "Run All" stops here; ``_render_traceback_`` (the
    hook IPython uses for its traceback) keeps internal frames out of the cell.
    """

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def split_options(line: str) -> tuple[str, str]:
    """Split ``--opt value ... TASK`` into the option string and the task text (verbatim)."""
    rest = line.strip()
    options: list[str] = []
    while rest.startswith("--"):
        token, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if token == "--":
            break
        options.append(token)
        if token not in _FLAGS and "=" not in token and rest:
            value, _, rest = rest.partition(" ") if rest[0] not in "\"'" else _quoted(rest)
            options.append(shlex.quote(value))
            rest = rest.lstrip()
    return " ".join(options), rest


def _quoted(text: str) -> tuple[str, str, str]:
    end = text.find(text[0], 1)
    if end < 0:
        raise UsageError(f"unbalanced quote in options: {text}")
    return text[1:end], " ", text[end + 1:]


def _parse(magic: Any, options: str) -> Any:
    """Parse magic options; a bad one is a UsageError that shows the usage line."""
    try:
        return parse_argstring(magic, options)
    except UsageError as exc:
        raise UsageError(f"{exc}\n{usage(magic)}") from None


def usage(magic: Any) -> str:
    """The one-line usage of a magic (``usage: %agent [--model MODEL] ... TASK``)."""
    line = "usage: " + " ".join(magic.parser.format_usage().replace("::", "").split())
    if magic.__name__ == "agent":
        line += " TASK  (or %%agent [options] with the task as the cell body)"
    return line


@magics_class
class AgentMagics(Magics):
    """The Open Agent magics."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._clients: dict[tuple[str, str | None], TaskAPI] = {}

    @magic_arguments()
    @argument("--model", help="model id for this task")
    @argument("--max-iterations", type=int, help="LLM steps allowed")
    @argument("--budget-cents", type=int, help="stop once the task costs this many US cents")
    @argument("--working-dir", help="where relative paths resolve")
    @argument("--backend", choices=BACKENDS, help="local or opencode")
    @argument("--approvals", choices=PRESETS,
              help="ask before risky tool calls (ask), deny them (read-only), or not (auto)")
    @argument("--approval-timeout", type=float, metavar="SECONDS",
              help="an unanswered approval is denied after this long (0: at once)")
    @argument("--background", action="store_true", help="return at once; the widget goes on")
    @argument("--server", metavar="URL", help="the Jupyter server with the extension")
    @argument("--token", metavar="T", help="that server's token")
    @argument("--local", action="store_true", help="run in this kernel, not on a server")
    @no_var_expand
    @line_cell_magic
    def agent(self, line: str, cell: str | None = None) -> AgentResult:
        """Run a coding task: ``%agent TASK`` or ``%%agent [options]`` + the task as the cell."""
        result, widget, background = self._start(line, cell)
        if not background:
            from .awaiting import awaits_on_asyncio

            if awaits_on_asyncio(self.shell):  # a kernel, but this call is not an await
                widget.stop_unavailable(BLOCKING_REASON)
            self._wait(result, widget)
        return result

    async def run_async(self, _name: str, line: str, cell: str | None = None) -> AgentResult:
        """``%agent`` in a kernel cell: wait by awaiting, so Stop clicks reach the widget.

        The cell's top-level ``%agent`` statements call this (see ``awaiting``); the
        kernel handles widget messages while the cell awaits.
        """
        from .awaiting import wait_async

        result, widget, background = self._start(line, cell)
        if not background:
            if not await wait_async(widget.follower):
                self._interrupted(result, widget)
            self._settle(result, widget)
        return result

    def _start(self, line: str, cell: str | None) -> tuple[AgentResult, Any, bool]:
        """Parse, submit and show the live widget: (result, widget, background)."""
        options, task = (line, cell) if cell is not None else split_options(line)
        args = _parse(self.agent, options)
        task = fill_task(task.strip(), self.shell.user_ns)
        if not task:
            raise UsageError(f"no task given\n{usage(self.agent)}")
        self._check(args)
        client = self._client(args.server, args.token, args.local)
        overrides = {name: getattr(args, name) for name in _OVERRIDES}
        if args.working_dir:  # relative to the notebook (the kernel's cwd), wherever it runs
            overrides["working_dir"] = os.path.abspath(os.path.expanduser(args.working_dir))
        result = self._submit(client, task, overrides)
        from .follow import follow

        widget = follow(client, result.id, result)
        from .bundle import TaskDisplay

        widget.task_display = TaskDisplay(widget, client, result).show()  # the one output
        result.shown_in = self.shell.execution_count  # so its value does not show it again
        self.shell.user_ns[LAST_RESULT] = result  # reachable even when the cell is interrupted
        return result, widget, bool(args.background)

    @magic_arguments()
    @argument("--server", metavar="URL", help="the Jupyter server with the extension")
    @argument("--token", metavar="T", help="that server's token")
    @argument("--local", action="store_true", help="tasks of this kernel's own engine")
    @line_magic
    def agent_panel(self, line: str) -> None:
        """Show the task panel: the task list, a submit box, the chosen task's live log."""
        args = _parse(self.agent_panel, line)
        from .panel import TaskPanel

        display(TaskPanel(self._client(args.server, args.token, args.local)))

    def _check(self, args: Any) -> None:
        for name in ("max_iterations", "budget_cents"):
            value = getattr(args, name)
            if value is not None and value < (1 if name == "max_iterations" else 0):
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be a whole number >= "
                                 f"{1 if name == 'max_iterations' else 0}\n"
                                 f"{usage(self.agent)}")
        if args.approval_timeout is not None and not args.approval_timeout >= 0:
            raise UsageError(f"--approval-timeout must be a number of seconds >= 0\n"
                             f"{usage(self.agent)}")

    def _client(self, server: str | None, token: str | None, local: bool) -> TaskAPI:
        url = None if local else (server or os.environ.get("OPEN_AGENT_URL"))
        try:
            if url is None:
                from .local import local_runner

                return local_runner()
            if (url, token) not in self._clients:
                from .client import AgentClient

                self._clients[(url, token)] = AgentClient(url, token)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        return self._clients[(url, token)]

    def _submit(self, client: TaskAPI, task: str, overrides: dict[str, Any]) -> AgentResult:
        from .attach import attachment

        attached = attachment(local=getattr(client, "url", None) == "in-process")
        try:
            try:
                created = client.submit(task, **overrides, **attached)
            except APIError as exc:  # a kernel or notebook this server does not know
                if not attached or exc.status != 400 or not _names_attachment(str(exc)):
                    raise
                created = client.submit(task, **overrides)
        except ServerUnreachableError as exc:
            raise UsageError(f"{exc}\nThe Open Agent server (OPEN_AGENT_URL or --server) cannot "
                             "be reached. Start it, pass --server URL --token T, or run the "
                             "task in this kernel with --local.") from None
        except (OpenAgentError, ValueError) as exc:
            raise UsageError(f"the task was refused: {exc}") from None
        return AgentResult(client, created["id"], created)

    def _wait(self, result: AgentResult, widget: Any) -> None:
        """Block until the task ends (plain IPython, or ``%agent`` nested in a block)."""
        follower = widget.follower
        try:
            while not follower.join(0.25):
                pass
        except KeyboardInterrupt:
            self._interrupted(result, widget)
        self._settle(result, widget)

    @staticmethod
    def _interrupted(result: AgentResult, widget: Any) -> None:
        """Stop the task, then go on interrupting (so "Run All" stops here, as users expect)."""
        widget.show_message("interrupted: stopping the task …")
        result.stop()
        widget.follower.join(30)
        result.refresh()
        widget.message.value = ""
        widget.task_display.update(result.data)
        raise TaskInterrupted(f"interrupted: task {result.id} stopped ({result.status}); "
                              f"its result is in `{LAST_RESULT}`")

    @staticmethod
    def _settle(result: AgentResult, widget: Any) -> None:
        """Take the final task (with its log) and put its timeline into the cell's output."""
        if not result.done or "log" not in result.data:
            result.refresh()
        widget.task_display.update(result.data)


def _names_attachment(message: str) -> bool:
    return "'kernel_id'" in message or "'notebook'" in message


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext open_agent_jupyter``)."""
    from .awaiting import install

    ipython.register_magics(AgentMagics)
    install(ipython)  # in a kernel: waiting cells keep handling widget clicks (Stop)
