"""Approval benchmarks (on demand).

    python benchmarks/bench_approvals.py [--only policy|answer] [--quick]

(1) Policy check per tool call with 100 rules, all on the call's tool and none matching
    (every rule is tried: the worst case); reference: ``json.loads`` of the same call's
    arguments, which the loop does for every call anyway. Target: <= 0.1 ms per call.
(2) Approval answer to tool start, against a real ``jupyter server`` subprocess: a task
    with ``approvals: ask`` makes N ``write_file`` calls; for each pending approval
    (seen on the SSE stream) the benchmark POSTs ``allow``; the tool's start is its
    ``tool_result`` entry's timestamp (the server's clock, on this machine) minus its
    ``duration_ms``. References: the round trip of the POST itself, and of an
    authenticated GET /api/stats on the same server. Target: median <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.llm_process import LLMProcess  # noqa: E402
from open_agent_jupyter.agent.policy import Policy, parse_rules  # noqa: E402
from tests.fakellm import Reply, call, text  # noqa: E402
from tests.server.liveserver import LiveServer  # noqa: E402

WRITES_RE = re.compile(r"write (\d+) files")


def writes(body: dict[str, Any]) -> Reply:
    """The LLM: ``write N files`` → N write_file calls, one per turn, then done."""
    messages = body["messages"]
    match = WRITES_RE.search(json.dumps(messages[:3]))
    wanted = int(match.group(1)) if match else 0
    done = sum(1 for m in messages if m.get("role") == "tool")
    if done < wanted:
        return call("write_file", {"path": f"out/{done}.txt", "content": f"file {done}\n"})
    return text("done")


def policy_check(calls: int) -> None:
    """(1) ``Policy.decide`` with 100 rules, beside ``json.loads`` of the arguments."""
    rules = parse_rules([{"tool": "run_command", "pattern": f"*never-{i}-*", "action": "deny"}
                         for i in range(100)])
    policy = Policy("ask", rules)
    arguments = {"command": "pytest -x tests/test_something.py", "timeout_secs": 60}
    raw = json.dumps(arguments)
    assert policy.decide("run_command", arguments).action == "ask"
    started = time.perf_counter()
    for _ in range(calls):
        policy.decide("run_command", arguments)
    per_call = (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for _ in range(calls):
        json.loads(raw)
    reference = (time.perf_counter() - started) / calls
    print(f"(1) policy check, 100 rules: {per_call * 1e3:.4f} ms per call "
          f"(reference json.loads of the arguments: {reference * 1e3:.4f} ms); "
          f"target <= 0.1 ms: {'OK' if per_call <= 1e-4 else 'MISSED'}")


def answer_to_start(server: LiveServer, count: int) -> None:
    """(2) POST allow → the tool starting, for ``count`` approvals of one task."""
    task_id = server.submit(f"write {count} files", approvals="ask",
                            max_iterations=count + 5)
    latencies, posts = [], []
    asked: dict[str, float] = {}
    with server.http.stream("GET", f"api/task/{task_id}/stream", timeout=120) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
                continue
            if not line.startswith("data: "):
                continue
            data = json.loads(line[6:])
            if event == "approval" and data["status"] == "pending":
                sent = time.time()
                answer = server.http.post(f"api/task/{task_id}/approvals/{data['id']}",
                                          json={"decision": "allow"})
                posts.append(time.time() - sent)
                assert answer.status_code == 200, answer.text
                asked[data["call_id"]] = sent
            elif event == "log" and data.get("entry_type") == "tool_result":
                # the server's clock (same machine): when the result was recorded, less
                # the tool's own duration, is when the tool started
                recorded = datetime.fromisoformat(data["timestamp"]).timestamp()
                started = recorded - data["duration_ms"] / 1000
                latencies.append(started - asked.pop(data["call_id"]))
            elif event == "done":
                break
    assert len(latencies) == count, (len(latencies), count)
    health = []
    for _ in range(count):
        sent = time.perf_counter()
        server.http.get("api/stats")
        health.append(time.perf_counter() - sent)
    median = statistics.median(latencies)
    print(f"(2) approval POST → tool start, {count} approvals: median {median * 1e3:.2f} ms, "
          f"max {max(latencies) * 1e3:.2f} ms (references: the POST's round trip, median "
          f"{statistics.median(posts) * 1e3:.2f} ms; GET /api/stats round trip, median "
          f"{statistics.median(health) * 1e3:.2f} ms); target median <= 20 ms: "
          f"{'OK' if median <= 0.020 else 'MISSED'}")


def main() -> None:
    """Run the benchmarks chosen on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["policy", "answer"])
    parser.add_argument("--quick", action="store_true", help="fewer calls and approvals")
    args = parser.parse_args()
    if args.only in (None, "policy"):
        policy_check(2_000 if args.quick else 20_000)
    if args.only in (None, "answer"):
        with LLMProcess("benchmarks.bench_approvals:writes") as llm, \
                tempfile.TemporaryDirectory() as home:
            server = LiveServer(Path(home), llm.base_url)
            try:
                server.start()
                answer_to_start(server, 10 if args.quick else 50)
            finally:
                server.close()


if __name__ == "__main__":
    main()
