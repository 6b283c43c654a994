"""grep_search against plain ripgrep on a large tree (on demand).

    python benchmarks/bench_grep.py [--runs 7] [--root PATH] [--pattern REGEX]

Searches the running Python's site-packages (or ``--root``) with the same regex
through the ``grep_search`` tool (via the registry, as the agent calls it) and
through the same ``rg`` binary run directly with equivalent flags (the reference,
same run). Prints the median of several runs and the ratio. Target: <= 1.2.
A second, common pattern shows the case where the tool stops at its match cap.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from open_agent_jupyter.config import Settings  # noqa: E402
from open_agent_jupyter.tools import ToolContext, default_registry  # noqa: E402
from open_agent_jupyter.tools.search import find_rg  # noqa: E402

RARE = r"def\s+_jupyter_server_extension_points"
COMMON = r"import\s+os"


def plain_rg(root: Path, pattern: str) -> tuple[float, int]:
    """Seconds and output lines of ``rg`` run directly with the tool's search flags."""
    args = [find_rg(), "--line-number", "--no-heading", "--hidden", "--glob", "!.git",
            "--ignore-case", "--regexp", pattern]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=root, capture_output=True, check=False)
    return time.perf_counter() - start, done.stdout.count(b"\n")


async def tool_grep(root: Path, pattern: str) -> tuple[float, int]:
    """Seconds and output lines of ``grep_search`` through the registry."""
    registry = default_registry()
    ctx = ToolContext(Settings(working_dir=str(root)))
    start = time.perf_counter()
    result = await registry.execute("grep_search", {"pattern": pattern}, ctx)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"grep_search failed: {result.output}")
    return elapsed, result.output.count("\n")


def measure(root: Path, pattern: str, runs: int) -> None:
    """Print medians of interleaved runs and the ratio."""
    plain_rg(root, pattern)  # warm the page cache for both
    tool_times, rg_times = [], []
    for _ in range(runs):
        seconds, rg_lines = plain_rg(root, pattern)
        rg_times.append(seconds)
        seconds, tool_lines = asyncio.run(tool_grep(root, pattern))
        tool_times.append(seconds)
    tool_med, rg_med = statistics.median(tool_times), statistics.median(rg_times)
    print(f"pattern {pattern!r}: rg printed {rg_lines} lines, grep_search {tool_lines}")
    print(f"  plain rg     median {rg_med * 1000:8.1f} ms  (runs: "
          + ", ".join(f"{t * 1000:.0f}" for t in rg_times) + ")")
    print(f"  grep_search  median {tool_med * 1000:8.1f} ms  (runs: "
          + ", ".join(f"{t * 1000:.0f}" for t in tool_times) + ")")
    print(f"  ratio grep_search / rg = {tool_med / rg_med:.2f}  (target <= 1.2)")


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["purelib"]))
    parser.add_argument("--pattern", default=None)
    args = parser.parse_args()
    files = sum(1 for p in args.root.rglob("*") if p.is_file())
    print(f"tree: {args.root} ({files:,} files); rg: {find_rg()}; runs: {args.runs}")
    for pattern in [args.pattern] if args.pattern else [RARE, COMMON]:
        measure(args.root, pattern, args.runs)


if __name__ == "__main__":
    main()
