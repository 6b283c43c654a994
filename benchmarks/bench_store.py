"""Task-layer benchmarks (on demand): log throughput, delivery while writing, memory.

    python benchmarks/bench_store.py [--entries 20000] [--tasks 2000]

(1) Entries per second through the manager's sink → batched writer → SQLite path
    (a backend that emits as fast as it can, then ``flush()``), beside raw sqlite3
    inserts of the same JSON rows on the same kind of file (the reference, same run):
    one transaction for all rows (the ceiling) and one commit per row (what a naive
    per-entry write would cost).
(2) How long the sink call takes per entry (what a backend waits for), and the
    worst gap a live subscriber sees between an entry's emission and its arrival.
(3) Memory after N finished tasks vs after N/4: it must stay flat (finished tasks
    live in the database, not in the manager).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from open_agent_jupyter.agent.events import LogEntry  # noqa: E402
from open_agent_jupyter.config import Settings  # noqa: E402
from open_agent_jupyter.tasks.manager import TaskManager  # noqa: E402
from open_agent_jupyter.tasks.store import TaskStore  # noqa: E402
from open_agent_jupyter.types import LogSink, Outcome, RunState  # noqa: E402

CONTENT = "x" * 200  # a typical short tool result line


class BurstBackend:
    """Emits ``count`` entries as fast as the sink accepts them, timing each call."""

    def __init__(self, count: int, record: bool = True) -> None:
        self.count = count
        self.record = record
        self.sink_seconds: list[float] = []
        self.emitted_at: dict[int, float] = {}

    async def run(self, task: str, settings: Settings, sink: LogSink, state: RunState) -> Outcome:
        for i in range(self.count):
            entry = LogEntry("tool_result", CONTENT, tool="run_command", call_id=str(i), ok=True)
            start = time.perf_counter()
            await sink(entry)
            if self.record:
                self.sink_seconds.append(time.perf_counter() - start)
                self.emitted_at[entry.seq or 0] = start
            if i % 100 == 0:
                await asyncio.sleep(0)  # let the writer and the subscriber run now and then
        return Outcome("completed", result="done")


async def through_manager(path: Path, count: int) -> tuple[float, BurstBackend, float]:
    backend = BurstBackend(count)
    manager = TaskManager(Settings(), TaskStore(path), backend_factory=lambda name: backend)
    await manager.start()
    task = await manager.submit("burst")
    worst = 0.0

    async def follow() -> None:
        nonlocal worst
        async for kind, data in manager.subscribe(task.id):
            if kind == "log":
                worst = max(worst, time.perf_counter() - backend.emitted_at[data["seq"]])

    follower = asyncio.create_task(follow())
    start = time.perf_counter()
    await manager.wait(task.id)
    await manager.flush()
    elapsed = time.perf_counter() - start
    await follower
    stored = len(await manager.get_log(task.id))
    await manager.close()
    assert stored == count, (stored, count)
    return count / elapsed, backend, worst


def raw_inserts(path: Path, count: int, per_row_commit: bool) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE log (task_id TEXT, seq INTEGER, entry TEXT, "
                 "PRIMARY KEY (task_id, seq)) WITHOUT ROWID")
    rows = [("t", i, json.dumps(LogEntry("tool_result", CONTENT, seq=i, tool="run_command",
                                         call_id=str(i), ok=True).to_dict()))
            for i in range(1, count + 1)]
    start = time.perf_counter()
    if per_row_commit:
        for row in rows:
            conn.execute("INSERT INTO log VALUES (?, ?, ?)", row)
    else:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO log VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


async def memory_after(path: Path, tasks: int) -> list[tuple[int, float]]:
    backend = BurstBackend(5, record=False)
    manager = TaskManager(Settings(), TaskStore(path), max_running=8,
                          backend_factory=lambda name: backend)
    await manager.start()
    figures = []
    tracemalloc.start()
    done = 0
    for mark in (tasks // 4, tasks):
        while done < mark:
            ids = [(await manager.submit(f"task {done + i}")).id for i in range(50)]
            for task_id in ids:
                await manager.wait(task_id)
            done += 50
        await manager.flush()
        gc.collect()
        figures.append((done, tracemalloc.get_traced_memory()[0] / 1e6))
    tracemalloc.stop()
    await manager.close()
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--tasks", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rate, backend, worst = await through_manager(root / "manager.sqlite", args.entries)
        batch = raw_inserts(root / "raw-batch.sqlite", args.entries, per_row_commit=False)
        single = raw_inserts(root / "raw-single.sqlite", min(args.entries, 5_000), True)
        sink_us = sorted(backend.sink_seconds)
        print(f"(1) {args.entries} entries, sink -> writer -> SQLite (incl. a live subscriber)")
        print(f"    manager path          {rate:12,.0f} entries/s")
        print(f"    raw sqlite, 1 txn     {batch:12,.0f} entries/s  (reference: ceiling)")
        print(f"    raw sqlite, 1 commit/row {single:9,.0f} entries/s  (reference: naive)")
        print("(2) sink call per entry: median "
              f"{sink_us[len(sink_us) // 2] * 1e6:.1f} us, p99 "
              f"{sink_us[int(len(sink_us) * 0.99)] * 1e6:.1f} us; "
              f"worst emission -> subscriber gap {worst * 1e3:.1f} ms")
        mem = await memory_after(root / "memory.sqlite", args.tasks)
        print("(3) traced memory after finished tasks: "
              + ", ".join(f"{n} tasks: {mb:.2f} MB" for n, mb in mem))


if __name__ == "__main__":
    asyncio.run(main())
