"""SubshellKernel on a real kernel started with jupyter_client (the CLI's kernel)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from open_agent_jupyter.access.launch import LaunchedKernel
from open_agent_jupyter.access.subshell import SubshellKernel
from open_agent_jupyter.exceptions import KernelDiedError


@pytest.fixture
async def kernel(tmp_path: Path) -> AsyncIterator[SubshellKernel]:
    access = SubshellKernel(LaunchedKernel(str(tmp_path)))
    yield access
    await access.close()


async def test_runs_code_streams_and_keeps_variables(kernel: SubshellKernel,
                                                     tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []

    async def sink(name: str, text: str) -> None:
        seen.append((name, text))

    run = await kernel.run("import os\nx = 41\nprint('cwd', os.getcwd())\nx + 1", sink)
    assert run.status == "ok"
    assert run.outputs[0] == {"output_type": "stream", "name": "stdout",
                              "text": f"cwd {tmp_path}\n"}
    assert run.outputs[1]["data"]["text/plain"] == "42"
    assert seen == [("stdout", f"cwd {tmp_path}\n")]
    names = {v["name"]: v for v in await kernel.variables()}
    assert names["x"]["repr"] == "41" and "os" not in names


async def test_interrupt_stops_only_the_code(kernel: SubshellKernel) -> None:
    await kernel.run("keep = [1, 2]")
    runaway = asyncio.ensure_future(kernel.run("while True: pass"))
    await asyncio.sleep(0.5)
    assert not runaway.done()
    await kernel.interrupt()
    run = await asyncio.wait_for(runaway, 10)
    assert run.status == "error" and run.outputs[-1]["ename"] == "KeyboardInterrupt"
    after = await kernel.run("keep")
    assert after.outputs[0]["data"]["text/plain"] == "[1, 2]"


async def test_a_kernel_killed_mid_call_is_an_error(kernel: SubshellKernel) -> None:
    pid = (await kernel.run("import os; os.getpid()")).outputs[0]["data"]["text/plain"]
    slow = asyncio.ensure_future(kernel.run("import time; time.sleep(60)"))
    await asyncio.sleep(0.5)
    os.kill(int(pid), signal.SIGKILL)
    with pytest.raises(KernelDiedError):
        await asyncio.wait_for(slow, 20)
    again = await kernel.run("1 + 1")  # a new kernel for the next call
    assert again.outputs[0]["data"]["text/plain"] == "2"
