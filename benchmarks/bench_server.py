"""Server benchmarks (on demand) against a real ``jupyter server`` subprocess and the fake LLM.

    python benchmarks/bench_server.py [--only sse|health|memory|overhead] [--quick]

(1) SSE delivery: events/s and the delay from an entry's timestamp to its arrival at
    a streaming client; reference: a client polling GET /api/task/{id} every 100 ms
    (the original tool's way). Target: median <= 5 ms.
(2) Responsiveness: GET /api/health latency while 8 tasks each run 200 echo steps
    against an instant LLM; reference: the same requests on the idle server.
    Target: p99 <= 50 ms.
(3) Memory: server RSS before and after 500 finished tasks. Target: growth <= 50 MB.
(4) Overhead: a 100-step echo task through the server vs ``open-agent run --json``;
    compared on the span between the first and the last log entry (the loop's own
    time, without process start-up), end-to-end walls shown too. Target: ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.llm_process import LLMProcess  # noqa: E402
from tests.fakellm import Reply, call, text  # noqa: E402
from tests.server.liveserver import LiveServer  # noqa: E402

STEPS_RE = re.compile(r"echo (\d+) times")


def echo_steps(body: dict[str, Any]) -> Reply:
    """The LLM of every benchmark: ``echo N times`` → N run_command echo steps, then done."""
    messages = body["messages"]
    match = STEPS_RE.search(json.dumps(messages[:3]))
    wanted = int(match.group(1)) if match else 0
    done = sum(1 for m in messages if m.get("role") == "tool")
    if done < wanted:
        return call("run_command", {"command": f"echo step {done}"})
    return text("done")


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    """Seconds shown as milliseconds."""
    return f"{seconds * 1000:.2f} ms"


def arrival_delay(entry: dict[str, Any]) -> float:
    """Seconds from the entry's timestamp to now."""
    return time.time() - datetime.fromisoformat(entry["timestamp"]).timestamp()


def sse_delivery(server: LiveServer, steps: int) -> None:
    """(1) push delay and rate through SSE, beside a 100 ms polling client."""
    task_id = server.submit(f"echo {steps} times", max_iterations=steps + 5)
    delays, arrivals = [], []
    with server.http.stream("GET", f"api/task/{task_id}/stream", timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and '"seq"' in line:
                delays.append(arrival_delay(json.loads(line[6:])))
                arrivals.append(time.perf_counter())
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    print(f"(1) SSE: {len(delays)} events, {rate:,.0f} events/s; delay median "
          f"{ms(statistics.median(delays))}, p95 {ms(pct(delays, 0.95))}   target: median <= 5 ms")
    polled = poll_delays(server, steps)
    print(f"    reference, polling every 100 ms: median {ms(statistics.median(polled))}, "
          f"p95 {ms(pct(polled, 0.95))}")


def poll_delays(server: LiveServer, steps: int) -> list[float]:
    """Delays seen by a client polling GET /api/task/{id} every 100 ms."""
    task_id = server.submit(f"echo {steps} times", max_iterations=steps + 5)
    seen, delays = 0, []
    while True:
        task = server.http.get(f"api/task/{task_id}").json()
        for entry in task["log"][seen:]:
            delays.append(arrival_delay(entry))
        seen = len(task["log"])
        if task["status"] in ("completed", "failed", "cancelled"):
            return delays
        time.sleep(0.1)


def health_latency(server: LiveServer, tasks: int, steps: int) -> None:
    """(2) /api/health latency while tasks run, beside the idle server."""
    idle = [timed_get(server.http, "api/health") for _ in range(200)]
    base = finished_count(server)
    ids = [server.submit(f"echo {steps} times", max_iterations=steps + 5) for _ in range(tasks)]
    busy: list[float] = []
    while finished_count(server) < base + tasks:
        for _ in range(20):
            busy.append(timed_get(server.http, "api/health"))
            time.sleep(0.01)
    statuses = {server.http.get(f"api/task/{i}").json()["status"] for i in ids}
    print(f"(2) health under {tasks} tasks x {steps} echo steps ({len(busy)} requests, tasks "
          f"{statuses}): p50 {ms(pct(busy, 0.5))}, p99 {ms(pct(busy, 0.99))}   "
          f"target: p99 <= 50 ms")
    print(f"    reference, idle server: p50 {ms(pct(idle, 0.5))}, p99 {ms(pct(idle, 0.99))}")


def finished_count(server: LiveServer) -> int:
    """Tasks in a final status."""
    by_status = server.http.get("api/stats").json()["by_status"]
    return sum(by_status.get(s, 0) for s in ("completed", "failed", "cancelled"))


def timed_get(http: httpx.Client, path: str) -> float:
    """Seconds one GET takes."""
    started = time.perf_counter()
    http.get(path).raise_for_status()
    return time.perf_counter() - started


def memory_growth(server: LiveServer, count: int) -> None:
    """(3) RSS before and after ``count`` finished tasks."""
    wait_finished(server, [server.submit("echo 1 times") for _ in range(20)])  # warm-up
    before = server.rss_mb()
    wait_finished(server, [server.submit("echo 1 times", max_iterations=3)
                           for _ in range(count)])
    after = server.rss_mb()
    print(f"(3) RSS {before:.1f} MB -> {after:.1f} MB after {count} finished tasks: growth "
          f"{after - before:+.1f} MB   target: <= 50 MB")


def wait_finished(server: LiveServer, ids: list[str]) -> None:
    """Wait until every task in ``ids`` is final."""
    for task_id in ids:
        server.wait_status(task_id, {"completed", "failed", "cancelled"}, timeout=600)


def overhead(server: LiveServer, steps: int, home: Path, rounds: int = 5) -> None:
    """(4) the same echo task through the server and through ``open-agent run``, alternated."""
    home.mkdir(parents=True, exist_ok=True)
    server_spans, cli_spans, server_walls, cli_walls = [], [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        task_id = server.submit(f"echo {steps} times", max_iterations=steps + 5)
        with server.http.stream("GET", f"api/task/{task_id}/stream", timeout=300) as response:
            for _ in response.iter_lines():
                pass
        server_walls.append(time.perf_counter() - started)
        server_spans.append(span(server.http.get(f"api/task/{task_id}").json()["log"]))
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "open_agent_jupyter.cli", "run", "--json",
                              "--max-iterations", str(steps + 5), f"echo {steps} times"],
                             env={**server.env, "WORKING_DIR": str(home)}, capture_output=True,
                             text=True, timeout=600, cwd=home)
        cli_walls.append(time.perf_counter() - started)
        entries = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
        cli_spans.append(span([e for e in entries if "timestamp" in e]))
    server_span, cli_span = statistics.median(server_spans), statistics.median(cli_spans)
    print(f"(4) {steps}-step task, median of {rounds}: server {server_span:.3f} s, open-agent run "
          f"{cli_span:.3f} s (first to last entry): ratio {server_span / cli_span:.2f}   "
          "target: <= 1.2")
    print(f"    end to end: server {statistics.median(server_walls):.3f} s (POST to done), "
          f"open-agent run {statistics.median(cli_walls):.3f} s (process wall)")


def span(entries: list[dict[str, Any]]) -> float:
    """Seconds between the first and the last entry's timestamps."""
    times = [datetime.fromisoformat(e["timestamp"]).timestamp() for e in entries]
    return max(times) - min(times)


def main() -> int:
    """Run the chosen benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["sse", "health", "memory", "overhead"])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    quick = args.quick
    chosen = [args.only] if args.only else ["sse", "health", "memory", "overhead"]
    # The fake LLM runs in its own process, as a real endpoint would (see llm_process).
    with tempfile.TemporaryDirectory() as tmp, \
            LLMProcess("benchmarks.bench_server:echo_steps") as llm:
        # MAX_ITERATIONS caps what a task may ask for (DESIGN §12.9): room for every size here.
        server = LiveServer(Path(tmp) / "server", llm.base_url,
                            args=("--OpenAgent.max_running=8",),
                            extra_env={"MAX_ITERATIONS": "1000"})
        server.start()
        print(f"jupyter server pid {server.proc.pid if server.proc else '?'} on port "
              f"{server.port}, fake LLM at {llm.base_url}, {os.cpu_count()} CPUs")
        try:
            if "sse" in chosen:
                sse_delivery(server, 50 if quick else 300)
            if "health" in chosen:
                health_latency(server, 8, 20 if quick else 200)
            if "memory" in chosen:
                memory_growth(server, 50 if quick else 500)
            if "overhead" in chosen:
                overhead(server, 20 if quick else 100, Path(tmp) / "cli")
        finally:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
