"""The start-up cost of the command sandbox (on demand).

    python benchmarks/bench_sandbox.py [--runs 30]

Runs the same short command (``true``, then ``python -c pass``) through ``run_command``
(via the registry, as the agent calls it) with ``SANDBOX=none`` and with
``SANDBOX=bubblewrap``, alternating, and prints the median wall time of each and the
difference: what bubblewrap adds to every command. The reference is the same command
without the sandbox, measured in the same run. No target: the figure is for the README.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from open_agent_jupyter.config import Settings  # noqa: E402
from open_agent_jupyter.tools import ToolContext, default_registry  # noqa: E402

COMMANDS = ("true", f"{sys.executable} -c pass")


async def one(ctx: ToolContext, command: str) -> float:
    """Seconds for one run_command call; fails loudly if the command failed."""
    start = time.perf_counter()
    result = await default_registry().execute("run_command", {"command": command}, ctx)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"{command!r} failed:\n{result.output}")
    return elapsed


async def measure(runs: int, work: Path) -> None:
    """Alternate plain and sandboxed runs of each command; print medians in ms."""
    plain = ToolContext(Settings(api_key="x", working_dir=str(work)))
    boxed = ToolContext(Settings(api_key="x", working_dir=str(work), sandbox="bubblewrap"))
    offline = ToolContext(Settings(api_key="x", working_dir=str(work), sandbox="bubblewrap",
                                   sandbox_network=False))
    print(f"run_command, median of {runs} alternated runs (ms)")
    print(f"{'command':<28}{'plain':>10}{'bwrap':>10}{'bwrap, no net':>16}{'added':>10}")
    for command in COMMANDS:
        times: dict[str, list[float]] = {"plain": [], "bwrap": [], "offline": []}
        for _ in range(runs):
            times["plain"].append(await one(plain, command))
            times["bwrap"].append(await one(boxed, command))
            times["offline"].append(await one(offline, command))
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        name = command if len(command) < 26 else "python -c pass"
        print(f"{name:<28}{med['plain']:>10.1f}{med['bwrap']:>10.1f}{med['offline']:>16.1f}"
              f"{med['bwrap'] - med['plain']:>+10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if shutil.which("bwrap") is None:
        raise SystemExit("bwrap is not installed (bash scripts/install-system-deps.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(args.runs, Path(tmp)))


if __name__ == "__main__":
    main()
