"""Per-step overhead through the server against a floor client (on demand).

    python benchmarks/bench_floor.py [--steps 100] [--rounds 5] [--profile out.svg]

Both sides run the same ``echo N times`` task against the same fake LLM in its own
process, alternated for ``--rounds`` rounds (medians shown):

- server: ``POST /api/task`` on a real ``jupyter server`` with the extension, its SSE
  stream followed to ``done`` (streamed-output events, progress frames and notices on);
  per step = time from POST to ``done`` / (steps + 1 LLM calls).
- floor: a minimal loop in this process that makes the same streamed chat-completions
  call (the same growing conversation, read to ``[DONE]``) and the same ``bash -c echo``
  subprocess, with no bookkeeping (no log, no store, no tool registry, no SSE).

Target: server ≤ 1.5 × floor. ``--profile`` records the server with py-spy during one
more server task (py-spy must be installed; it is not a dependency of the project).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_server import echo_steps  # noqa: E402,F401  (the LLM's script)
from benchmarks.llm_process import LLMProcess  # noqa: E402
from open_agent_jupyter.tools import default_registry  # noqa: E402
from tests.server.liveserver import LiveServer  # noqa: E402


def server_task(server: LiveServer, steps: int) -> float:
    """Seconds from POST to the stream's ``done`` for an ``echo steps times`` task."""
    started = time.perf_counter()
    task_id = server.submit(f"echo {steps} times", max_iterations=steps + 5)
    with server.http.stream("GET", f"api/task/{task_id}/stream", timeout=600) as response:
        for _ in response.iter_lines():
            pass
    return time.perf_counter() - started


async def floor_task(base_url: str, steps: int, work: str) -> float:
    """Seconds for the same conversation with a bare loop: streamed call, then the echo."""
    tools = default_registry().schemas()
    messages: list[dict[str, Any]] = [{"role": "system", "content": "bench"},
                                      {"role": "user", "content": f"echo {steps} times"}]
    bash = shutil.which("bash") or "/bin/sh"
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(steps + 1):
            body = {"model": "fake/model", "messages": messages, "tools": tools,
                    "stream": True, "stream_options": {"include_usage": True}}
            call = await _stream_call(http, f"{base_url}/chat/completions", body)
            if call is None:
                break
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            proc = await asyncio.create_subprocess_shell(
                json.loads(call["function"]["arguments"])["command"], cwd=work,
                executable=bash, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True)
            out, _ = await proc.communicate()
            messages.append({"role": "tool", "tool_call_id": call["id"],
                             "content": f"Exit code: 0\nstdout:\n{out.decode()}"})
    return time.perf_counter() - started


async def _stream_call(http: httpx.AsyncClient, url: str,
                       body: dict[str, Any]) -> dict[str, Any] | None:
    """Read one streamed answer; its (single) tool call, or None for a plain answer."""
    call: dict[str, Any] | None = None
    async with http.stream("POST", url, json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            for choice in json.loads(line[6:]).get("choices") or ():
                for part in (choice.get("delta") or {}).get("tool_calls") or ():
                    if call is None:
                        call = {"id": part.get("id"), "type": "function",
                                "function": {"name": part["function"].get("name"),
                                             "arguments": ""}}
                    call["function"]["arguments"] += part["function"].get("arguments") or ""
    return call


def profile(server: LiveServer, steps: int, out: str) -> None:
    """Record the server process with py-spy while it runs one more task."""
    assert server.proc is not None
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    spy = subprocess.Popen([exe, "record", "--pid", str(server.proc.pid), "--rate", "200",
                            "--format", "raw" if out.endswith(".txt") else "flamegraph",
                            "--output", out, "--idle"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    server_task(server, steps)
    spy.send_signal(2)
    spy.wait(timeout=60)
    print(f"    py-spy profile of the server during a {steps}-step task: {out}")


def main() -> int:
    """Alternate server and floor rounds; print the medians per step and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a py-spy profile (.svg, or .txt for raw)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            LLMProcess("benchmarks.bench_server:echo_steps") as llm:
        # MAX_ITERATIONS caps what a task may ask for (DESIGN §12.9): room for --steps.
        server = LiveServer(Path(tmp) / "server", llm.base_url,
                            extra_env={"MAX_ITERATIONS": str(max(1000, args.steps + 5))})
        server.start()
        work = Path(tmp) / "floor"
        work.mkdir()
        try:
            server_task(server, 5)  # warm up: imports, price list, connections
            asyncio.run(floor_task(llm.base_url, 5, str(work)))
            served, floor = [], []
            for _ in range(args.rounds):
                served.append(server_task(server, args.steps))
                floor.append(asyncio.run(floor_task(llm.base_url, args.steps, str(work))))
            per = args.steps + 1
            s_ms, f_ms = (statistics.median(x) * 1000 / per for x in (served, floor))
            print(f"{args.steps}-step echo task, median of {args.rounds} alternated rounds")
            print(f"    through the server (POST to done): {s_ms:6.2f} ms per step")
            print(f"    floor client (bare loop):          {f_ms:6.2f} ms per step")
            print(f"    ratio {s_ms / f_ms:.2f}   target: <= 1.5")
            if args.profile:
                profile(server, args.steps, args.profile)
        finally:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
