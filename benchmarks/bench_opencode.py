"""The same scripted task through the local backend and through OpenCode (on demand).

    python benchmarks/bench_opencode.py [--rounds 5]

The task writes a file, runs a command that reads it and answers; the loopback fake
LLM plays the model with each backend's own tool names (``write_file``/``run_command``
for ours, ``write``/``bash`` for OpenCode). Printed side by side: median wall time per
task, the peak RSS of this process (local backend vs OpenCode backend as a client),
and the OpenCode server's RSS (idle after start, and its peak). The reference, in the
same run, is the same two actions done directly from Python (no LLM, no agent).
Needs ``opencode`` (on PATH, or installed from npm into the cache folder).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from open_agent_jupyter.backends import make_backend  # noqa: E402
from open_agent_jupyter.config import Settings  # noqa: E402
from open_agent_jupyter.types import RunState  # noqa: E402
from tests.backends.opencode_server import MODEL, PROVIDER, OpenCodeServer  # noqa: E402
from tests.fakellm import FakeLLM, Reply, call, text  # noqa: E402

TASK = "Write hello.py printing hi, run it, and tell me what it printed."


async def _null_sink(entry: object) -> None:
    return None


def script(backend: str, work: Path) -> list[Reply]:
    """The model's replies for one task, in the backend's tool names."""
    if backend == "local":
        return [call("write_file", {"path": "hello.py", "content": "print('hi')\n"}),
                call("run_command", {"command": "python3 hello.py"}), text("It printed hi.")]
    return [call("write", {"filePath": str(work / "hello.py"), "content": "print('hi')\n"}),
            call("bash", {"command": "python3 hello.py", "description": "run it"}),
            text("It printed hi.")]


async def one_task(backend: str, settings: Settings, llm: FakeLLM) -> float:
    """Seconds for one task; fails loudly if it did not complete."""
    llm.script(*script(backend, Path(settings.working_dir)))
    started = time.perf_counter()
    outcome = await make_backend(backend).run(TASK, settings, _null_sink, RunState())
    elapsed = time.perf_counter() - started
    assert outcome.status == "completed" and outcome.result == "It printed hi.", outcome
    return elapsed


def direct(work: Path) -> float:
    """Seconds to do the same two actions directly (the reference)."""
    started = time.perf_counter()
    (work / "hello.py").write_text("print('hi')\n")
    subprocess.run([sys.executable, "hello.py"], cwd=work, capture_output=True, check=True)
    return time.perf_counter() - started


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    """A memory figure of a process from /proc, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_self_mb() -> float:
    """The peak RSS of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(backend: str, settings: Settings, llm: FakeLLM, rounds: int) -> float:
    """Median seconds per task after one warm-up task."""
    await one_task(backend, settings, llm)
    return statistics.median([await one_task(backend, settings, llm) for _ in range(rounds)])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with FakeLLM(model=f"{PROVIDER}/{MODEL}") as llm, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ("local", "opencode", "direct"):
            (root / name).mkdir()
        ref = statistics.median([direct(root / "direct") for _ in range(args.rounds)])
        local = Settings(api_key="bench", base_url=llm.base_url, model=llm.model,
                         working_dir=str(root / "local"), budget_cents=0)
        local_s = await measure("local", local, llm, args.rounds)
        local_peak = peak_self_mb()
        started = time.perf_counter()
        with OpenCodeServer(root / "home", llm.base_url, {"bash": "allow"}) as server:
            start_s = time.perf_counter() - started
            assert server.process is not None
            idle_mb = rss_mb(server.process.pid)
            oc = Settings(backend="opencode", opencode_base_url=server.url, model=llm.model,
                          working_dir=str(root / "opencode"))
            oc_s = await measure("opencode", oc, llm, args.rounds)
            server_peak = rss_mb(server.process.pid, "VmHWM")
            server_now = rss_mb(server.process.pid)
        print(f"one task (write a file, run it, answer), median of {args.rounds} after a warm-up")
        print(f"  {'':28}{'local':>12}{'opencode':>12}")
        print(f"  {'wall time per task (ms)':28}{local_s * 1000:12.1f}{oc_s * 1000:12.1f}")
        print(f"  {'our process peak RSS (MB)':28}{local_peak:12.1f}{peak_self_mb():12.1f}"
              "   (cumulative: the opencode column includes the local run)")
        print(f"  {'opencode serve RSS (MB)':28}{'-':>12}{server_now:12.1f}"
              f"   (idle after start {idle_mb:.0f}, peak {server_peak:.0f})")
        print(f"  opencode serve start-up: {start_s:.2f} s (once per server)")
        print(f"  reference, the same two actions done directly: {ref * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
