"""The ``python`` tool's round trip against a bare ``execute_request`` (on demand).

    python benchmarks/bench_python_tool.py [--rounds 200]

One kernel, started with jupyter_client. The reference is ``1+1`` sent as a plain
``execute_request`` by a jupyter_client ``AsyncKernelClient`` (main shell), timed until its
``execute_reply`` and its iopub ``idle`` have arrived. The measured path is the ``python``
tool called through the registry as the agent calls it (``SubshellKernel``: a subshell of
the same kernel; output collected from iopub; the text for the model formatted). Rounds
alternate the two; medians are printed side by side. Target: within 10 ms of the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from open_agent_jupyter.access.launch import LaunchedKernel  # noqa: E402
from open_agent_jupyter.access.notebooks import FileNotebooks  # noqa: E402
from open_agent_jupyter.access.subshell import SubshellKernel, client_for  # noqa: E402
from open_agent_jupyter.config import Settings  # noqa: E402
from open_agent_jupyter.tools import ToolContext, default_registry  # noqa: E402
from open_agent_jupyter.types import NotebookContext  # noqa: E402


async def bare_round(client: object) -> float:
    """Seconds from sending ``1+1`` until its reply and its idle status are in."""
    start = time.perf_counter()
    msg_id = client.execute("1+1")  # type: ignore[attr-defined]
    while True:
        reply = await client.get_shell_msg(timeout=10)  # type: ignore[attr-defined]
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    while True:
        msg = await client.get_iopub_msg(timeout=10)  # type: ignore[attr-defined]
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" \
                and msg["content"]["execution_state"] == "idle":
            return time.perf_counter() - start


async def tool_round(registry: object, ctx: ToolContext) -> float:
    """Seconds of one ``python`` call of ``1+1`` through the registry."""
    start = time.perf_counter()
    result = await registry.execute("python", {"code": "1+1"}, ctx)  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    if not result.ok or "2" not in result.output:
        raise SystemExit(f"python failed: {result.output}")
    return elapsed


async def main(rounds: int) -> None:
    """Run both paths ``rounds`` times, alternating, and print the medians."""
    folder = tempfile.mkdtemp(prefix="bench-python-")
    source = LaunchedKernel(folder)
    kernel = SubshellKernel(source)
    ctx = ToolContext(Settings(working_dir=folder),
                      notebook=NotebookContext(kernel, FileNotebooks(folder)))
    registry = default_registry(notebook=True)
    try:
        await tool_round(registry, ctx)  # starts the kernel and the subshell
        assert source.manager is not None
        client = await client_for(source.manager.get_connection_info())
        for _ in range(20):  # warm both paths
            await bare_round(client)
            await tool_round(registry, ctx)
        bare, tool = [], []
        for _ in range(rounds):
            bare.append(await bare_round(client))
            tool.append(await tool_round(registry, ctx))
        client.stop_channels()
    finally:
        await kernel.close()
    b, t = statistics.median(bare) * 1000, statistics.median(tool) * 1000
    print(f"rounds: {rounds}")
    print(f"bare execute_request (jupyter_client, main shell): median {b:.2f} ms")
    print(f"python tool (registry, subshell):                  median {t:.2f} ms")
    print(f"difference: {t - b:+.2f} ms (target: within 10 ms) -> "
          f"{'OK' if t - b <= 10 else 'OVER'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
