"""``SubshellKernel``: a ``types.KernelAccess`` that runs code in a kernel subshell of its own.

Why a subshell (ipykernel >= 7): while a notebook's ``%agent`` cell waits, the kernel's
main shell is busy, and an ordinary ``execute_request`` would queue behind that very cell.
A subshell (``create_subshell_request`` on the control channel; ``subshell_id`` in the
header of each ``execute_request``) runs at once on its own thread, sharing the user's
variables both ways.

Stopping: a kernel interrupt (SIGINT) reaches only the main shell, so ``interrupt`` runs a
silent request in a second subshell that raises ``KeyboardInterrupt`` in the first one's
thread (``PyThreadState_SetAsyncExc``), and only while that thread is inside IPython's
``run_code`` (never between runs). A long call in C ends before the exception is seen.

Death: while it waits, the access checks every ``POLL`` seconds that the kernel is the same
live process (``KernelHandle.generation``); a kernel that died or restarted ends the run
with ``KernelDiedError``, and the next run connects again. ``KernelSource`` says where the
kernel comes from (the server's kernel manager, or jupyter_client for the CLI).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import queue
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from jupyter_client.asynchronous import AsyncKernelClient

from ..exceptions import KernelDiedError, KernelError
from ..tools import variables
from ..types import CodeRun, OutputSink

#: Seconds between liveness checks while waiting for the kernel.
POLL = 0.5
#: Seconds to wait for the answer to a request that should be quick (subshells, probes).
QUICK = 10.0
_INTERRUPT = """\
def _open_agent_interrupt(tid):
    import ctypes, sys
    frame = sys._current_frames().get(tid)
    while frame is not None:
        if frame.f_code.co_name == "run_code" and "IPython" in frame.f_code.co_filename:
            return ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(tid), ctypes.py_object(KeyboardInterrupt))
        frame = frame.f_back
    return 0
"""
_VARIABLES = ("import sys as _s, types as _t\n"
              "_m = _s.modules.get('_open_agent_variables')\n"
              "if _m is None:\n"
              "    _m = _s.modules['_open_agent_variables'] = _t.ModuleType('_open_agent_variables')\n"
              "    exec({source!r}, _m.__dict__)\n"
              "del _s, _t, _m\n")
_LAST_ERROR_EXPR = ("(lambda e: None if e is None else f'{type(e).__name__}: {e}')"
                    "(getattr(__import__('sys'), 'last_value', None))")
_VARIABLES_EXPR = ("__import__('_open_agent_variables').describe_variables_json(globals(), "
                   "getattr(get_ipython(), 'user_ns_hidden', ()))")


@dataclass
class KernelHandle:
    """A connected client and a way to tell the kernel is the same live process."""

    client: AsyncKernelClient
    #: A token that stays equal while the kernel lives; None once it is gone.
    generation: Callable[[], Awaitable[object | None]]


class KernelSource(Protocol):
    """Where a ``SubshellKernel``'s kernel comes from."""

    async def connect(self) -> KernelHandle:
        """A client with started channels (starting the kernel first if it is the task's)."""
        ...

    async def release(self) -> None:
        """Shut down a kernel started for the task; leave a user's kernel alone."""
        ...


async def client_for(connection_info: dict[str, Any], fresh: bool = False,
                     timeout: float = 60) -> AsyncKernelClient:
    """An async client on a kernel's connection info, channels started.

    ``fresh``: the kernel was just started; wait until its main shell has answered once
    (ipykernel sets up its subshell machinery there, and refuses subshells before).
    """
    client = AsyncKernelClient()
    client.load_connection_info(connection_info)
    # No heartbeat: liveness comes from the kernel's manager (KernelHandle.generation), and
    # a heartbeat that has not beaten yet would make a fresh kernel look dead.
    client.start_channels(hb=False)
    if fresh:
        try:
            await client.wait_for_ready(timeout=timeout)
        except RuntimeError as exc:
            client.stop_channels()
            raise KernelError(f"the new kernel did not start: {exc}") from None
    return client


class SubshellKernel:
    """``KernelAccess`` through a subshell of a kernel that ``source`` provides."""

    def __init__(self, source: KernelSource) -> None:
        self.source = source
        self._handle: KernelHandle | None = None
        self._generation: object | None = None
        self._subshell: str | None = None
        self._interrupter: str | None = None
        self._thread: int | None = None
        self._running = False
        self._setup = asyncio.Lock()

    async def run(self, code: str, sink: OutputSink | None = None) -> CodeRun:
        """Run ``code`` in the subshell; outputs in order, stream text also to ``sink``."""
        handle = await self._ensure()
        msg_id = self._send(handle.client, code, silent=False)
        self._running = True
        try:
            outputs = await self._collect(handle, msg_id, sink)
        finally:
            self._running = False
        failed = any(o["output_type"] == "error" for o in outputs)
        return CodeRun(outputs, "error" if failed else "ok")

    async def interrupt(self) -> None:
        """Raise KeyboardInterrupt in the subshell's thread if it is running code."""
        handle, thread = self._handle, self._thread
        if handle is None or thread is None or not self._running:
            return
        if self._interrupter is None:
            self._interrupter = await self._create_subshell(handle)
        code = f"{_INTERRUPT}_open_agent_interrupt({thread})\ndel _open_agent_interrupt"
        self._send(handle.client, code, silent=True, subshell=self._interrupter)

    async def variables(self) -> list[dict[str, Any]]:
        """The user's variables, described by ``tools.variables`` inside the kernel."""
        handle = await self._ensure()
        code = _VARIABLES.format(source=inspect.getsource(variables))
        reply = await self._request(handle, code, {"v": _VARIABLES_EXPR})
        result = reply["content"].get("user_expressions", {}).get("v", {})
        if result.get("status") != "ok":
            raise KernelError(f"could not list the variables: {result.get('evalue', result)}")
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    async def last_error(self) -> str | None:
        """``ename: evalue`` of the kernel's last uncaught error (``sys.last_value``)."""
        handle = await self._ensure()
        reply = await self._request(handle, "", {"e": _LAST_ERROR_EXPR})
        result = reply["content"].get("user_expressions", {}).get("e", {})
        if result.get("status") != "ok":
            return None
        return ast.literal_eval(result["data"]["text/plain"])

    async def close(self) -> None:
        """Delete the subshells, close the channels, release the kernel."""
        handle, self._handle = self._handle, None
        if handle is not None:
            for subshell in (self._subshell, self._interrupter):
                if subshell is not None:
                    handle.client.control_channel.send(handle.client.session.msg(
                        "delete_subshell_request", {"subshell_id": subshell}))
            await asyncio.sleep(0)
            handle.client.stop_channels()
        self._subshell = self._interrupter = self._thread = None
        await self.source.release()

    # -- connection ---------------------------------------------------------------------

    async def _ensure(self) -> KernelHandle:
        async with self._setup:
            if self._handle is not None:
                return self._handle
            handle = await self.source.connect()
            try:
                self._generation = await handle.generation()
                self._handle = handle
                await self._check_subshells(handle)
                self._subshell = await self._create_subshell(handle)
                reply = await self._request(handle, "", {"tid": "__import__('threading')"
                                                                ".get_ident()"}, probe=True)
            except BaseException:
                self._forget()
                handle.client.stop_channels()
                raise
            self._thread = int(reply["content"]["user_expressions"]["tid"]["data"]["text/plain"])
            return handle

    def _forget(self) -> None:
        self._handle = None
        self._subshell = self._interrupter = self._thread = None

    async def _check_subshells(self, handle: KernelHandle) -> None:
        """KernelError unless the kernel has subshells (asked on the control channel, which
        answers while the main shell is busy)."""
        msg = handle.client.session.msg("kernel_info_request", {})
        handle.client.control_channel.send(msg)
        reply = await self._reply(handle, handle.client.control_channel, msg["header"]["msg_id"],
                                  QUICK)
        features = reply["content"].get("supported_features") or []
        if "kernel subshells" not in features:
            implementation = reply["content"].get("implementation", "this kernel")
            raise KernelError(f"{implementation} has no kernel subshells (ipykernel >= 7 has "
                              "them): the python tool cannot run code next to the notebook")

    async def _create_subshell(self, handle: KernelHandle) -> str:
        msg = handle.client.session.msg("create_subshell_request", {})
        handle.client.control_channel.send(msg)
        reply = await self._reply(handle, handle.client.control_channel, msg["header"]["msg_id"],
                                  QUICK)
        if reply["content"].get("status") != "ok":
            raise KernelError("this kernel has no subshells (it needs ipykernel >= 7): "
                              f"{reply['content'].get('evalue', reply['content'])}")
        return reply["content"]["subshell_id"]

    def _send(self, client: AsyncKernelClient, code: str, silent: bool,
              subshell: str | None = None, expressions: dict[str, str] | None = None) -> str:
        msg = client.session.msg("execute_request", {
            "code": code, "silent": silent, "store_history": False,
            "user_expressions": expressions or {}, "allow_stdin": False,
            "stop_on_error": False})
        msg["header"]["subshell_id"] = subshell or self._subshell
        client.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    async def _request(self, handle: KernelHandle, code: str, expressions: dict[str, str],
                       probe: bool = False) -> dict[str, Any]:
        """A silent request in the subshell; its reply (a probe also waits for iopub)."""
        for _ in range(10 if probe else 1):
            msg_id = self._send(handle.client, code, silent=True, expressions=expressions)
            reply = await self._reply(handle, handle.client.shell_channel, msg_id, None)
            if not probe or await self._iopub_sees(handle, msg_id):
                return reply
        raise KernelError("the kernel's output channel does not answer")

    async def _iopub_sees(self, handle: KernelHandle, msg_id: str) -> bool:
        """Whether iopub delivers the probe's idle status (the subscription is live)."""
        deadline = asyncio.get_running_loop().time() + 1.0
        while asyncio.get_running_loop().time() < deadline:
            try:
                msg = await handle.client.iopub_channel.get_msg(timeout=0.2)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id and \
                    msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return True
        return False

    async def _reply(self, handle: KernelHandle, channel: Any, msg_id: str,
                     timeout: float | None) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while deadline is None or loop.time() < deadline:
            try:
                msg = await channel.get_msg(timeout=POLL)
            except queue.Empty:
                await self._check_alive(handle)
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        raise KernelError("the kernel did not answer in time")

    async def _check_alive(self, handle: KernelHandle) -> None:
        if await handle.generation() != self._generation:
            self._forget()
            handle.client.stop_channels()
            raise KernelDiedError("the kernel died or was restarted while the code ran; its "
                                  "variables are gone (the next call runs in the new kernel)")

    async def _collect(self, handle: KernelHandle, msg_id: str,
                       sink: OutputSink | None) -> list[dict[str, Any]]:
        outputs: list[dict[str, Any]] = []
        while True:
            try:
                msg = await handle.client.iopub_channel.get_msg(timeout=POLL)
            except queue.Empty:
                await self._check_alive(handle)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                return outputs
            if kind == "stream" and sink is not None:
                await sink(content["name"], content["text"])
            add_output(outputs, kind, content)


def add_output(outputs: list[dict[str, Any]], kind: str, content: dict[str, Any]) -> None:
    """Add one iopub message's output to ``outputs`` in nbformat-4 form."""
    if kind == "stream":
        last = outputs[-1] if outputs else None
        if last and last["output_type"] == "stream" and last["name"] == content["name"]:
            last["text"] += content["text"]
        else:
            outputs.append({"output_type": "stream", "name": content["name"],
                            "text": content["text"]})
    elif kind in ("display_data", "execute_result"):
        out = {"output_type": kind, "data": content.get("data", {}),
               "metadata": content.get("metadata", {})}
        if kind == "execute_result":
            out["execution_count"] = content.get("execution_count")
        outputs.append(out)
    elif kind == "error":
        outputs.append({"output_type": "error", "ename": content.get("ename", ""),
                        "evalue": content.get("evalue", ""),
                        "traceback": content.get("traceback", [])})
    elif kind == "clear_output":
        outputs.clear()

