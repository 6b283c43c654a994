"""SSE fan-out benchmark (on demand): many subscribers on one task, beside none, same run.

    python benchmarks/bench_sse_fanout.py [--subscribers 200] [--steps 300] [--quick]

A real ``jupyter server`` subprocess runs one task of ``--steps`` echo steps (about two
entries each) against the fake LLM (in its own process). The task first runs
``sleep`` for a few seconds, so the subscribers are all connected before the measured
part starts; the task's time is the span from that sleep's result to the last entry.
Meanwhile this process times ``GET /api/health`` every 20 ms.

Round 1: no subscriber (the reference). Round 2: ``--subscribers`` raw-socket SSE
readers, in a separate process so their reading does not share this one's GIL; each
counts the ``log`` events it got and whether ``done`` came. Targets: the task's time
with subscribers <= 1.5x the reference; health p99 while they stream <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_server import ms, pct, timed_get  # noqa: E402
from benchmarks.llm_process import LLMProcess  # noqa: E402
from tests.fakellm import Reply, call, text  # noqa: E402
from tests.server.liveserver import TOKEN, LiveServer  # noqa: E402

GATE_SECONDS = 6


def gated_echo(body: dict[str, Any]) -> Reply:
    """``echo N times``: one ``sleep`` (the gate), then N echo steps, then done."""
    messages = body["messages"]
    wanted = int(json.dumps(messages[:3]).split("echo ", 1)[1].split(" times", 1)[0])
    done = sum(1 for m in messages if m.get("role") == "tool")
    if done == 0:
        return call("run_command", {"command": f"sleep {GATE_SECONDS}"})
    if done <= wanted:
        return call("run_command", {"command": f"echo step {done}"})
    return text("done")


def run_round(server: LiveServer, steps: int, subscribers: int) -> dict[str, Any]:
    """One task with ``subscribers`` readers; its span, health latencies, readers' counts."""
    cpu_before = cpu_seconds(server.proc.pid) if server.proc else 0.0
    task_id = server.submit(f"echo {steps} times", max_iterations=steps + 5)
    readers = start_readers(server, task_id, subscribers) if subscribers else None
    latencies: list[tuple[float, float]] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll_health, args=(server, latencies, stop))
    poller.start()
    task = server.wait_status(task_id, {"completed", "failed", "cancelled"}, timeout=900)
    cpu = (cpu_seconds(server.proc.pid) if server.proc else 0.0) - cpu_before
    stop.set()
    poller.join()
    start, end = measured_window(task["log"])
    result = {"status": task["status"], "entries": len(task["log"]), "span": end - start,
              "server_cpu": cpu,
              "latencies": [lat for at, lat in latencies if start <= at <= end]}
    if readers is not None:
        out, _ = readers.communicate(timeout=300)
        result["readers"] = json.loads(out.strip().splitlines()[-1])
    return result


def measured_window(log: list[dict[str, Any]]) -> tuple[float, float]:
    """Wall times of the gate's result (the first tool_result) and of the last entry."""
    times = [datetime.fromisoformat(e["timestamp"]).timestamp() for e in log]
    gate = next(i for i, e in enumerate(log) if e["entry_type"] == "tool_result")
    return times[gate], times[-1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def poll_health(server: LiveServer, latencies: list[tuple[float, float]],
                stop: threading.Event) -> None:
    """Time GET /api/health every 20 ms until ``stop`` (wall time of each, latency)."""
    while not stop.is_set():
        latencies.append((time.time(), timed_get(server.http, "api/health")))
        time.sleep(0.02)


def start_readers(server: LiveServer, task_id: str, count: int) -> subprocess.Popen[str]:
    """The reader process; returns once all ``count`` streams are open."""
    path = f"{server.base_url}api/task/{task_id}/stream"
    proc = subprocess.Popen([sys.executable, __file__, "--readers", str(server.port), path,
                             str(count)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("connected"):
        raise RuntimeError(f"readers failed: {line!r}")
    return proc


async def read_stream(port: int, path: str, opened: asyncio.Queue[None]) -> tuple[int, bool]:
    """One raw-socket SSE reader: (log events received, whether ``done`` came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Authorization: token {TOKEN}\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    opened.put_nowait(None)
    events, tail, done = 0, b"", False
    while not done:
        chunk = await reader.read(65536)
        if not chunk:
            break
        window = tail + chunk
        events += window.count(b"event: log") - tail.count(b"event: log")
        done = b"event: done" in window
        tail = window[-32:]
    writer.close()
    return events, done


async def readers_main(port: int, path: str, count: int) -> None:
    """Open ``count`` streams, say ``connected``, read them all, print their figures."""
    opened: asyncio.Queue[None] = asyncio.Queue()
    jobs = [asyncio.create_task(read_stream(port, path, opened)) for _ in range(count)]
    for _ in range(count):
        await opened.get()
    print("connected", flush=True)
    results = await asyncio.gather(*jobs)
    counts = sorted(events for events, _ in results)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"cpu": usage.ru_utime + usage.ru_stime,
                      "min_events": counts[0], "max_events": counts[-1],
                      "done": sum(1 for _, done in results if done)}), flush=True)


def report(name: str, round_: dict[str, Any]) -> None:
    """Print one round's figures."""
    lat = round_["latencies"]
    line = (f"{name}: task {round_['status']}, {round_['entries']} entries, "
            f"span {round_['span']:.3f} s, server CPU {round_['server_cpu']:.1f} s; health {len(lat)} requests p50 {ms(pct(lat, 0.5))} "
            f"p99 {ms(pct(lat, 0.99))}")
    if "readers" in round_:
        r = round_["readers"]
        line += (f"; readers got {r['min_events']}..{r['max_events']} log events, done "
                 f"{r['done']}, their CPU {r['cpu']:.1f} s")
    print(line, flush=True)


def main() -> int:
    """Run the reference round and the fan-out round on one server; print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="20 subscribers, 50 steps")
    parser.add_argument("--readers", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.readers:
        port, path, count = args.readers
        asyncio.run(readers_main(int(port), path, int(count)))
        return 0
    subscribers, steps = (20, 50) if args.quick else (args.subscribers, args.steps)
    with tempfile.TemporaryDirectory() as tmp, \
            LLMProcess("benchmarks.bench_sse_fanout:gated_echo") as llm:
        # The server's MAX_ITERATIONS caps what a task may ask for (DESIGN §12.9).
        server = LiveServer(Path(tmp) / "server", llm.base_url,
                            extra_env={"MAX_ITERATIONS": str(steps + 10)}).start()
        print(f"jupyter server on port {server.port}, {os.cpu_count()} CPUs; "
              f"{steps} steps, {subscribers} subscribers", flush=True)
        try:
            alone = run_round(server, steps, 0)
            report("(ref) 0 subscribers", alone)
            crowd = run_round(server, steps, subscribers)
            report(f"      {subscribers} subscribers", crowd)
        finally:
            server.close()
    ratio = crowd["span"] / alone["span"]
    print(f"task time ratio {ratio:.2f}   target: <= 1.5; health p99 with subscribers "
          f"{ms(pct(crowd['latencies'], 0.99))}   target: <= 50 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
