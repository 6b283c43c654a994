"""Sidebar benchmarks (on demand): JupyterLab + headless Chromium + the fake LLM in its own process.

    python benchmarks/bench_sidebar.py [--steps 40] [--calls 1000]

(1) Entry to row: a task submitted from the sidebar runs ``--steps`` echo steps 150 ms apart;
    for each tool call, the delay from the entry's timestamp (recorded by the server) to its
    row appearing in the sidebar (a MutationObserver, ``performance.timeOrigin + now()``).
    Reference, same run: the delay to the same entry reaching a bare SSE client (httpx) that
    follows the task. Target: median <= 50 ms.
(2) A task of ``--calls`` tool calls (read_file, 100 per turn) opened from the task list:
    from the click to its timeline showing its rows and final status. Reference, same run:
    the page fetching and parsing ``GET /api/task/{id}`` (its whole log) once. Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.llm_process import LLMProcess  # noqa: E402
from tests.fakellm import Reply, call, calls, text  # noqa: E402
from tests.notebook.conftest import JupyterProcess, engine_env  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
ECHO_RE = re.compile(r"echo (\d+) times")
READ_RE = re.compile(r"read (\d+) files")
PER_TURN = 100


def reply(body: dict[str, Any]) -> Reply:
    """``echo N times`` → N slow echo steps; ``read N files`` → N read_file calls, 100 a turn."""
    messages = body["messages"]
    head = json.dumps(messages[:3])
    done = sum(1 for m in messages if m.get("role") == "tool")
    if match := ECHO_RE.search(head):
        if done < int(match.group(1)):
            return call("run_command", {"command": f"echo step {done}"}, delay=0.15)
    elif match := READ_RE.search(head):
        left = int(match.group(1)) - done
        if left > 0:
            return calls([("read_file", {"path": "note.txt"})] * min(PER_TURN, left))
    return text("done")


OBSERVE = """() => {
    window.__rows = {};
    new MutationObserver(records => {
        const t = performance.timeOrigin + performance.now();
        for (const r of records) for (const n of r.addedNodes) {
            if (n.nodeType === 1 && n.classList.contains('oa-Row-tool') && !(n.dataset.seq in window.__rows))
                window.__rows[n.dataset.seq] = t;
        }
    }).observe(document.getElementById('open-agent-sidebar'), {childList: true, subtree: true});
}"""

OPEN_BIG = """async ([id, rows]) => {
    const side = document.getElementById('open-agent-sidebar');
    const row = side.querySelector(`.oa-TaskRow[data-task-id="${id}"]`);
    const t0 = performance.now();
    row.click();
    for (;;) {
        await new Promise(r => requestAnimationFrame(r));
        const tl = side.querySelector(`.oa-Timeline[data-task-id="${id}"]`);
        if (tl && tl.querySelectorAll('.oa-Row-tool').length >= rows
            && tl.querySelector('.oa-Status')?.textContent.includes('completed')) break;
    }
    return performance.now() - t0;
}"""

FETCH_LOG = """async id => {
    const t0 = performance.now();
    const r = await fetch(`api/task/${id}`, {credentials: 'same-origin'});
    const data = await r.json();
    return [performance.now() - t0, data.log.length];
}"""


def epoch_ms(iso: str) -> float:
    """Milliseconds since the epoch of an ISO-8601 timestamp."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def follow_reference(lab: JupyterProcess, task_id: str, arrivals: dict[int, float]) -> None:
    """A bare SSE client: the arrival time (epoch ms) of each log entry."""
    url = f"{lab.url}api/task/{task_id}/stream"
    with httpx.stream("GET", url, headers=lab.headers, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and '"seq"' in line:
                arrivals.setdefault(json.loads(line[6:])["seq"], time.time() * 1000)


def wait_final(lab: JupyterProcess, task_id: str) -> dict[str, Any]:
    """Poll until the task has ended; return it with its log."""
    while True:
        task = httpx.get(f"{lab.url}api/task/{task_id}", headers=lab.headers, timeout=60).json()
        if task["status"] in ("completed", "failed", "cancelled"):
            return task
        time.sleep(0.2)


def bench_rows(page: Any, lab: JupyterProcess, steps: int) -> None:
    """(1) Entry timestamp → row in the sidebar, against a bare SSE client."""
    page.evaluate(OBSERVE)
    page.locator("#open-agent-sidebar textarea").fill(f"echo {steps} times")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_selector("#open-agent-sidebar .oa-Timeline[data-task-id]")
    task_id = page.locator("#open-agent-sidebar .oa-Timeline").get_attribute("data-task-id")
    arrivals: dict[int, float] = {}
    reader = threading.Thread(target=follow_reference, args=(lab, task_id, arrivals), daemon=True)
    reader.start()
    task = wait_final(lab, task_id)
    reader.join(timeout=30)
    page.wait_for_timeout(300)
    seen = page.evaluate("window.__rows")
    calls_ = [e for e in task["log"] if e["entry_type"] == "tool_call"][2:]  # warm-up skipped
    ui = [seen[str(e["seq"])] - epoch_ms(e["timestamp"]) for e in calls_ if str(e["seq"]) in seen]
    ref = [arrivals[e["seq"]] - epoch_ms(e["timestamp"]) for e in calls_ if e["seq"] in arrivals]
    print(f"(1) entry → sidebar row, {len(ui)} tool calls")
    print(f"    sidebar row:        median {statistics.median(ui):7.1f} ms   "
          f"max {max(ui):7.1f} ms")
    print(f"    bare SSE client:    median {statistics.median(ref):7.1f} ms   "
          f"max {max(ref):7.1f} ms   (reference)")
    print(f"    target: median <= 50 ms -> {'met' if statistics.median(ui) <= 50 else 'NOT met'}")


def bench_big(page: Any, lab: JupyterProcess, count: int) -> None:
    """(2) A task of ``count`` calls opened from the list, against fetching its log once."""
    created = httpx.post(f"{lab.url}api/task", headers=lab.headers, timeout=60,
                         json={"task": f"read {count} files"}).json()
    task = wait_final(lab, created["id"])
    tools = sum(1 for e in task["log"] if e["entry_type"] == "tool_call")
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_selector(f'.oa-TaskRow[data-task-id="{created["id"]}"]')
    shown = min(200, tools)
    opened = page.evaluate(OPEN_BIG, [created["id"], shown])
    fetched, entries = page.evaluate(FETCH_LOG, created["id"])
    print(f"(2) a task of {tools} tool calls ({entries} entries) opened from the list")
    print(f"    timeline shown ({shown} rows, the rest behind 'Show earlier'): {opened:7.1f} ms")
    print(f"    fetch + parse its log once:  {fetched:7.1f} ms   (reference)")
    print(f"    target: <= 1000 ms -> {'met' if opened <= 1000 else 'NOT met'}")


def main() -> None:
    """Run both benchmarks against one JupyterLab."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LLMProcess("benchmarks.bench_sidebar:reply") as llm:
        root = Path(tmp) / "root"
        root.mkdir()
        (root / "note.txt").write_text("a short note\n")
        env = {**engine_env(llm, root), "JUPYTERLAB_SETTINGS_DIR": f"{tmp}/settings",
               "JUPYTERLAB_WORKSPACES_DIR": f"{tmp}/workspaces"}
        lab = JupyterProcess(root, env, app="lab")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(f"{lab.url}lab?token={lab.token}")
                page.locator('.jp-SideBar [data-id="open-agent-sidebar"]').click()
                page.wait_for_selector("#open-agent-sidebar textarea")
                bench_rows(page, lab, args.steps)
                bench_big(page, lab, args.calls)
                browser.close()
        finally:
            lab.close()


if __name__ == "__main__":
    main()
