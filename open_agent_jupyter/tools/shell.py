"""run_command: a shell command as an async subprocess in its own process group.

The command runs under ``bash`` (``/bin/sh`` if there is none) with stdin closed
and pagers/prompts disabled, so an interactive program cannot hang the task. On
timeout, and when the awaiting task is cancelled, the whole process group gets
SIGKILL (background jobs included); cancellation is then re-raised. A command
that exits while a background job still holds its output is not waited for:
after ``PIPE_GRACE`` seconds the tool answers with what it has. While it runs, stdout
and stderr go to ``ctx.output`` as they come (``agent.output`` coalesces and caps them).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import shutil
import signal
from typing import Any

from ..procs import Command, current_watch
from ..types import OutputSink
from . import sandbox
from .base import Tool, ToolContext, ToolError, ToolResult, cap_text
from .untrusted import from_network, mark_untrusted

#: Characters of stdout / stderr kept (head and tail) in the answer.
STDOUT_LIMIT = 20_000
STDERR_LIMIT = 8_000
#: Bytes buffered per stream (head and tail each) while the command runs.
BUFFER_BYTES = 256 * 1024
#: Seconds to wait for output pipes to close once the shell has exited or been killed.
PIPE_GRACE = 2.0
MAX_TIMEOUT = 3600
_POLL = 0.1
_QUIET_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0",
              "DEBIAN_FRONTEND": "noninteractive", "TERM": "dumb"}


#: Credentials of the agent and of Jupyter that a command must not see (and so cannot print
#: into a task's log): the LLM key and the tokens of this Jupyter server and of JupyterHub.
SECRET_ENV = ("OPENROUTER_API_KEY", "OPEN_AGENT_TOKEN", "JUPYTER_TOKEN", "JPY_API_TOKEN",
              "JUPYTERHUB_API_TOKEN")


def command_env() -> dict[str, str]:
    """The environment of a command: ours, without secrets, with pagers and prompts off."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(_QUIET_ENV)
    return env


class _Capture:
    """Keeps the head and tail of a byte stream within a fixed memory bound."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        """Keep the first and the latest ``BUFFER_BYTES`` of the stream."""
        self.total += len(chunk)
        room = BUFFER_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            del self.tail[:-BUFFER_BYTES]

    def text(self, limit: int) -> str:
        """The captured bytes as text within ``limit`` characters, noting any cut."""
        cut = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {cut} bytes cut ...]\n".encode() if cut > 0 else b""
        raw = bytes(self.head + middle + self.tail)
        return cap_text(raw.decode("utf-8", "replace"), limit)


async def _pump(stream: asyncio.StreamReader, capture: _Capture, name: str,
                output: OutputSink | None) -> None:
    """Capture a pipe; with ``output``, also hand each piece on as it comes (as text)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while chunk := await stream.read(1 << 16):
        capture.add(chunk)
        if output is not None:
            await output(name, decoder.decode(chunk))
    if output is not None:
        await output(name, decoder.decode(b"", final=True))


def _kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (start_new_session made it a leader)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class RunCommand(Tool):
    """Run a shell command."""

    name = "run_command"
    description = ("Run a bash command (stdin closed; no interactive programs). Returns the exit "
                   "code, stdout and stderr; the command and its children are killed on timeout.")
    parameters = {
        "type": "object",
        "properties": {
            "command": {"type": "string"},
            "cwd": {"type": "string", "description": "Directory (default: working dir)"},
            "timeout_secs": {"type": "number", "exclusiveMinimum": 0,
                             "maximum": MAX_TIMEOUT, "default": 60},
        },
        "required": ["command"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Run the command; non-zero exit gives ok=False with the full output."""
        cwd = ctx.resolve(arguments.get("cwd"))
        if not await asyncio.to_thread(cwd.is_dir):
            raise ToolError(f"cwd {cwd} is not an existing directory")
        timeout = float(arguments.get("timeout_secs") or 60)
        command = current_watch().command()  # its marker and group: what Stop/recovery kill
        profile = sandbox.profile_for(ctx.settings)
        argv = [shutil.which("bash") or "/bin/sh", "-c", arguments["command"]]
        proc = await asyncio.create_subprocess_exec(
            *(sandbox.wrap(profile, argv, cwd) if profile else argv), cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
            env={**command_env(), **command.env})
        command.spawned(proc.pid)
        out, err = _Capture(), _Capture()
        pumps = asyncio.gather(_pump(proc.stdout, out, "stdout", ctx.output),  # type: ignore[arg-type]
                               _pump(proc.stderr, err, "stderr", ctx.output))  # type: ignore[arg-type]
        pumps.add_done_callback(_retrieve)
        try:
            timed_out, detached = await _wait(proc, pumps, timeout, command)
        except asyncio.CancelledError:
            _kill_group(proc.pid)
            pumps.cancel()
            await asyncio.to_thread(command.kill)  # what left the group (setsid) too
            # Return only once the command is gone, so a stopped task leaves nothing behind.
            await asyncio.wait({asyncio.ensure_future(proc.wait())}, timeout=PIPE_GRACE)
            raise
        result = _result(proc.returncode, out, err, timed_out, timeout, detached)
        if from_network(arguments["command"]):  # what a server sent is data, not instructions
            result.output = mark_untrusted("a command that fetches from the network",
                                           result.output)
        note = sandbox.refusal_note(result.output, profile) if profile and not result.ok else None
        if note:
            result.output += "\n" + note
        return result


async def _wait(proc: asyncio.subprocess.Process, pumps: asyncio.Future[Any],
                timeout: float, command: Command) -> tuple[bool, bool]:
    """Wait for the output to end; return (timed out, background jobs hold the pipes).

    ``Process.wait()`` also waits for the pipes, so a background job that keeps
    them open would hang it: the shell's exit is seen through ``returncode``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    exited_at: float | None = None
    while not pumps.done():
        await asyncio.wait({pumps}, timeout=_POLL)
        now = loop.time()
        if proc.returncode is not None:
            exited_at = exited_at or now
            if now - exited_at >= PIPE_GRACE and not pumps.done():
                pumps.cancel()
                return False, True
        elif now >= deadline:
            _kill_group(proc.pid)
            await asyncio.to_thread(command.kill)  # what left the group (setsid) too
            # Anything that left the group may keep the pipes: wait for them only briefly.
            await asyncio.wait({pumps}, timeout=PIPE_GRACE)
            pumps.cancel()
            return True, False
    await proc.wait()
    return False, False


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a cancelled gather's outcome as seen (it finishes with CancelledError)."""
    if not future.cancelled():
        future.exception()


def _result(code: int | None, out: _Capture, err: _Capture, timed_out: bool,
            timeout: float, detached: bool) -> ToolResult:
    parts = []
    if timed_out:
        parts.append(f"Timed out after {timeout:g} s; the command and its children were killed. "
                     "Output so far:")
    else:
        parts.append(f"Exit code: {code}")
    if detached:
        parts.append("(background processes still hold the output; their later output is not "
                     "shown: redirect it to a file)")
    parts.append("stdout:\n" + (out.text(STDOUT_LIMIT) if out.total else "(empty)"))
    if err.total:
        parts.append("stderr:\n" + err.text(STDERR_LIMIT))
    return ToolResult(ok=(code == 0 and not timed_out), output="\n".join(parts))
