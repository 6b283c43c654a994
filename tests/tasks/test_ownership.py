"""Leases, recovery and claims on a real SQLite file (DESIGN §12.4)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

from open_agent_jupyter.procs import process_start
from open_agent_jupyter.tasks import ownership
from open_agent_jupyter.tasks.models import Task, TaskStatus
from open_agent_jupyter.tasks.ownership import Identity, is_alive
from open_agent_jupyter.tasks.store import TaskStore


def a_dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_who_is_alive() -> None:
    me = Identity.of_this_process()
    now = time.time()
    started = process_start(os.getpid())
    assert is_alive(("x", me.host, os.getpid(), started, now - 60), me, now)  # busy, not dead
    assert not is_alive(("x", me.host, a_dead_pid(), started, now + 10), me, now)
    assert not is_alive(("x", me.host, os.getpid(), "other:1", now + 10), me, now)  # PID reused
    assert is_alive(("x", "elsewhere", 1, "b:1", now + 1), me, now)
    assert not is_alive(("x", "elsewhere", 1, "b:1", now - 1), me, now)  # lease expired


async def test_a_gone_owners_pending_tasks_are_claimed_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    stores = [TaskStore(path) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        tasks = [Task(task=f"t{i}", model="m") for i in range(20)]
        running = Task(task="was running", model="m", status=TaskStatus.RUNNING)
        for task in [*tasks, running]:
            await stores[0].insert_task(task, owner="a-server-that-is-gone")
        servers = [Identity.of_this_process() for _ in stores]
        found = await asyncio.gather(*(
            store.call(ownership.tick, me, time.time()) for store, me in zip(stores, servers, strict=True)))
        claimed = [task.id for tick in found for task, _ in tick.claimed]
        assert sorted(claimed) == sorted(t.id for t in tasks)  # each once, by one server
        assert sum(len(tick.failed) for tick in found) == 1
        failed = await stores[1].get_task(running.id)
        assert failed is not None and failed.status is TaskStatus.FAILED
        assert [e["content"] for e in await stores[2].get_log(running.id)] == [
            ownership.INTERRUPTED]
    finally:
        for store in stores:
            await store.close()


async def test_recorded_groups_go_to_the_server_that_recovers_their_task(tmp_path: Path) -> None:
    first, second = TaskStore(tmp_path / "tasks.db"), TaskStore(tmp_path / "tasks.db")
    await first.open()
    await second.open()
    try:
        owner, rescuer = Identity.of_this_process(), Identity.of_this_process()
        running = Task(task="runs a command", model="m", status=TaskStatus.RUNNING)
        await first.insert_task(running, owner=owner.instance)
        await first.call(ownership.tick, owner, time.time(), [(running.id, 4242, "boot:7")])
        # The owner's process is gone as far as the others can tell (its start differs).
        await first.call(lambda db: db.execute(
            "UPDATE servers SET started = 'another:1' WHERE instance = ?", (owner.instance,)))
        found = await second.call(ownership.tick, rescuer, time.time())
        assert found.failed == [running.id]
        assert found.groups == {running.id: [(4242, "boot:7")]}
        again = await second.call(ownership.tick, rescuer, time.time())
        assert again.failed == [] and again.groups == {}  # handed out once
    finally:
        await first.close()
        await second.close()
