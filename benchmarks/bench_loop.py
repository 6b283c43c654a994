"""Engine benchmarks (on demand): loop overhead per step, and tokens of the first LLM call.

    python benchmarks/bench_loop.py [--steps 100]

(1) A task whose every step is ``run_command echo``, against an instant loopback LLM,
    beside the same echo commands spawned directly (the reference, same run). The fake
    LLM runs in its own process, as a real endpoint would: in this process its Python
    threads would compete with the loop for the GIL and bill their time to the loop
    (``--llm-in-process`` shows that figure).
    Target: per-step time within 5 ms of the bare spawn on a 2-core machine.
(3) Tokens sent on the first call (system prompt + the 13 tool schemas), estimated at
    4 characters a token. Target: <= 2,500 (OpenCode sends about 8,000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.llm_process import LLMProcess  # noqa: E402
from open_agent_jupyter.agent.loop import LocalBackend  # noqa: E402
from open_agent_jupyter.agent.prompt import system_prompt  # noqa: E402
from open_agent_jupyter.config import Settings  # noqa: E402
from open_agent_jupyter.llm.tokens import estimate_tokens  # noqa: E402
from open_agent_jupyter.tools import default_registry  # noqa: E402
from open_agent_jupyter.types import RunState  # noqa: E402
from tests.fakellm import FakeLLM, Reply, call, text  # noqa: E402


async def _null_sink(entry: object) -> None:
    return None


def echo_reply(body: dict) -> Reply:
    """The fake LLM's answer: ``echo`` until the task's number of steps is done."""
    steps = int(body["messages"][1]["content"].split()[-1])
    done = sum(1 for m in body["messages"] if m.get("role") == "tool")
    return text("done") if done >= steps else call("run_command", {"command": f"echo step {done}"})


async def agent_steps(steps: int, llm: FakeLLM | LLMProcess, work: str) -> float:
    """Seconds for a task of ``steps`` echo steps plus the final answer."""
    settings = Settings(api_key="bench", base_url=llm.base_url, model=llm.model,
                        working_dir=work, max_iterations=steps + 5, budget_cents=0)
    started = time.perf_counter()
    outcome = await LocalBackend().run(f"echo {steps}", settings, _null_sink, RunState())
    elapsed = time.perf_counter() - started
    assert outcome.status == "completed", outcome
    return elapsed


async def bare_spawns(steps: int, work: str, shell: str) -> float:
    """Seconds to spawn the same echo commands directly through ``shell``."""
    started = time.perf_counter()
    for i in range(steps):
        proc = await asyncio.create_subprocess_shell(
            f"echo step {i}", cwd=work, executable=shell, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
        await proc.communicate()
    return time.perf_counter() - started


def first_call_tokens(work: str) -> tuple[int, int, int]:
    """Estimated tokens of the system prompt, of the tool schemas, and in all."""
    prompt = system_prompt(Path(work))
    schemas = default_registry().schemas()
    return estimate_tokens(prompt), estimate_tokens(schemas), estimate_tokens(
        json.dumps({"system": prompt, "tools": schemas}))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--llm-in-process", action="store_true",
                        help="serve the fake LLM from a thread of this process")
    args = parser.parse_args()
    server = FakeLLM(echo_reply) if args.llm_in_process else LLMProcess("benchmarks.bench_loop:echo_reply")
    with server as llm, tempfile.TemporaryDirectory() as work:
        await agent_steps(5, llm, work)  # warm up imports, price list, connections
        bash = shutil.which("bash") or "/bin/sh"
        agent_times, bash_times, sh_times = [], [], []
        for _ in range(args.rounds):
            agent_times.append(await agent_steps(args.steps, llm, work))
            bash_times.append(await bare_spawns(args.steps, work, bash))
            sh_times.append(await bare_spawns(args.steps, work, "/bin/sh"))
        agent_ms = statistics.median(agent_times) * 1000 / (args.steps + 1)
        bash_ms = statistics.median(bash_times) * 1000 / args.steps
        sh_ms = statistics.median(sh_times) * 1000 / args.steps
        where = "in this process" if args.llm_in_process else "in its own process"
        print(f"(1) loop overhead, {args.steps} echo steps, median of {args.rounds} rounds, "
              f"fake LLM {where}")
        print(f"    agent step (LLM call + tool + log):        {agent_ms:7.2f} ms")
        print(f"    bare spawn through bash (the tool's shell): {bash_ms:7.2f} ms")
        print(f"    bare spawn through /bin/sh:                 {sh_ms:7.2f} ms")
        print(f"    difference: {agent_ms - bash_ms:+.2f} ms per step against bash, "
              f"{agent_ms - sh_ms:+.2f} ms against /bin/sh (target <= +5 ms)")
        prompt, tools, total = first_call_tokens(work)
        print("(3) first LLM call (estimated at 4 characters a token)")
        print(f"    system prompt {prompt} + 13 tool schemas {tools} = {total} tokens "
              f"(target <= 2,500; OpenCode sends about 8,000)")


if __name__ == "__main__":
    asyncio.run(main())
