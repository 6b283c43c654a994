"""The cost of JupyterHub's proxy (on demand), against a real hub and the fake LLM.

    python benchmarks/bench_hub.py [--rounds N]

Starts a hub with two users (as ``tests/hub``), then, alternating in the same run, talks to
alice's server (a) through the hub's proxy at ``/user/alice/`` and (b) straight to the server's
own port (from the proxy's routing table), with the same hub-issued token:

(1) submit latency: ``POST /api/task`` round trip;
(2) SSE delivery: the delay from each log entry's timestamp to its arrival on the task's stream.

Prints medians and p95s side by side and the proxy's added cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakellm import FakeLLM  # noqa: E402
from tests.hub.conftest import scripted  # noqa: E402
from tests.hub.hubserver import Hub  # noqa: E402


def one_round(base: str, token: str) -> tuple[float, list[float]]:
    """Submit one task, follow its stream: (submit ms, [delivery ms per entry])."""
    headers = {"Authorization": f"token {token}"}
    with httpx.Client(base_url=base + "api", headers=headers, timeout=60) as api:
        start = time.perf_counter()
        task_id = api.post("/task", json={"task": "list the files"}).json()["id"]
        submit = (time.perf_counter() - start) * 1000
        delays = []
        with api.stream("GET", f"/task/{task_id}/stream") as answer:
            event = ""
            for line in answer.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "log":
                    arrived = time.time()
                    stamp = datetime.fromisoformat(json.loads(line[5:])["timestamp"])
                    delays.append((arrived - stamp.timestamp()) * 1000)
                elif line.startswith("data:") and event == "done":
                    break
    return submit, delays


def p95(values: list[float]) -> float:
    """The 95th percentile."""
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> None:
    """Run the rounds and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with FakeLLM(default=scripted) as llm, tempfile.TemporaryDirectory() as home:
        hub = Hub(Path(home), llm.base_url)
        try:
            hub.start()
            proxied = hub.start_server("alice")
            direct = hub.direct_url("alice")
            token = hub.token("alice")[1]
            results: dict[str, tuple[list[float], list[float]]] = {
                "through the proxy": ([], []), "straight to the server": ([], [])}
            one_round(proxied, token), one_round(direct, token)  # warm both paths
            for _ in range(args.rounds):
                for name, base in (("through the proxy", proxied),
                                   ("straight to the server", direct)):
                    submit, delays = one_round(base, token)
                    results[name][0].append(submit)
                    results[name][1].extend(delays)
        finally:
            hub.stop()
    print(f"{args.rounds} tasks each way, alternated")
    for name, (submits, delays) in results.items():
        print(f"{name:>24}: submit median {statistics.median(submits):6.2f} ms "
              f"p95 {p95(submits):6.2f} ms | SSE delivery median "
              f"{statistics.median(delays):6.2f} ms p95 {p95(delays):6.2f} ms")
    (ps, pd), (ds, dd) = results["through the proxy"], results["straight to the server"]
    print(f"{'proxy adds':>24}: submit {statistics.median(ps) - statistics.median(ds):+.2f} ms, "
          f"SSE delivery {statistics.median(pd) - statistics.median(dd):+.2f} ms (medians)")


if __name__ == "__main__":
    main()
