"""``open-agent calibrate`` against the loopback fake LLM, in-process and as a subprocess."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from open_agent_jupyter.agent.estimate import make_estimate
from open_agent_jupyter.calibration.runner import Measurement
from open_agent_jupyter.calibration.tasks import CalibrationTask
from open_agent_jupyter.cli import main
from open_agent_jupyter.cli.calibrate import ProgressBar
from open_agent_jupyter.config import Settings
from open_agent_jupyter.types import RunState, Usage
from tests.fakellm import FakeLLM, Reply, call, text

TASKS_YAML = """\
- name: hello
  task: Create hello.py that prints Hello World.
  check: test -f hello.py
- name: notes
  task: Write notes.txt with three lines, then check it.
  check: test -f notes.txt
"""


def write(path: Path, content: str) -> Path:
    path.write_text(content)
    return path


@pytest.fixture
def env(fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> FakeLLM:
    """The environment of a user whose endpoint is the fake LLM."""
    for name in ("WORKING_DIR", "MAX_ITERATIONS", "BUDGET_CENTS", "AGENT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENROUTER_API_KEY", "test-key")
    monkeypatch.setenv("OPENROUTER_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("DEFAULT_MODEL", fake_llm.model)
    monkeypatch.setenv("LLM_MAX_RETRIES", "1")
    return fake_llm


def script_two_tasks(llm: FakeLLM) -> None:
    """hello: 2 iterations of 300+50 tokens; notes: 3 iterations of 300+50 tokens."""
    tokens = {"prompt_tokens": 300, "completion_tokens": 50}
    llm.script(
        call("write_file", {"path": "hello.py", "content": "print('Hello World')\n"}, **tokens),
        text("Wrote hello.py.", **tokens),
        call("write_file", {"path": "notes.txt", "content": "a\nb\nc\n"}, **tokens),
        call("read_file", {"path": "notes.txt"}, **tokens),
        text("Wrote notes.txt.", **tokens),
    )


def estimate_in(workdir: Path, task: str) -> dict:
    settings = Settings.from_env().with_overrides(working_dir=str(workdir))

    async def go() -> dict:
        async with httpx.AsyncClient() as http:
            return await make_estimate(task, settings, http)

    return asyncio.run(go())


def test_calibration_writes_a_tuning_file_the_next_estimate_uses(
        env: FakeLLM, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks = write(tmp_path / "tasks.yaml", TASKS_YAML)
    workspace = tmp_path / "ws"
    task = "Create hello.py that prints Hello World."
    before = estimate_in(tmp_path, task)
    script_two_tasks(env)
    code = main(["calibrate", "--workspace", str(workspace), "--tasks", str(tasks),
                 "--write-tuning", "--max-iterations", "10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "[1/2] hello: completed, check passed · 2 iterations · 700 tokens" in err
    assert "[2/2] notes: completed, check passed · 3 iterations · 1,050 tokens" in err
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["hello"][1] == "yes" and rows["hello"][3] == "2" and rows["hello"][5] == "700"
    assert rows["notes"][3] == "3" and rows["notes"][5] == "1,050"
    runs = list((workspace / "runs").iterdir())
    assert (runs[0] / "01-hello" / "hello.py").exists()
    assert (runs[0] / "02-notes" / "notes.txt").exists()

    doc = json.loads((workspace / ".open_agent" / "tuning.json").read_text())
    assert doc["version"] == 1 and doc["model"] == env.model and doc["created_at"]
    fit = doc["fit"]
    assert fit["tasks"] == 2 and fit["interrupted"] is False and fit["priced"] is True
    assert fit["after"]["tokens"] < fit["before"]["tokens"]
    assert fit["after"]["iterations"] < fit["before"]["iterations"]

    after = estimate_in(workspace, task)
    assert after["source"] == str(workspace / ".open_agent" / "tuning.json")
    assert before["source"] == "default"
    # The defaults expect thousands of tokens; the fitted estimate is near the measured 700.
    assert before["tokens"] > 5 * 700
    assert abs(after["tokens"] - 700) < abs(before["tokens"] - 700)
    assert after["cost_usd"] < before["cost_usd"]


def test_without_write_tuning_nothing_is_saved(env: FakeLLM, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    tasks = write(tmp_path / "tasks.json", json.dumps([{"name": "one", "task": "say hi"}]))
    env.script(text("hi"))
    code = main(["calibrate", "--workspace", str(tmp_path / "ws"), "--tasks", str(tasks)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "Not saved: add --write-tuning" in out and "Fit over 1 task(s)" in out
    assert not (tmp_path / "ws" / ".open_agent").exists()


def test_builtin_task_set_runs_each_task_in_its_own_folder(
        env: FakeLLM, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env.script(call("write_file", {"path": "hello.py", "content": "print('Hello World')\n"}),
               text("done"))  # the other tasks get the default answer "Done." and do nothing
    code = main(["calibrate", "--workspace", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "[1/3] hello-world: completed, check passed" in err
    assert "[2/3] cli-calculator: completed, check failed" in err
    assert "[3/3] tiny-package: completed, check failed" in err
    assert "no (check failed)" in out
    folders = sorted(p.name for p in next((tmp_path / "runs").iterdir()).iterdir())
    assert folders == ["01-hello-world", "02-cli-calculator", "03-tiny-package"]


@pytest.mark.parametrize(("content", "suffix", "words"), [
    ("- name: a\n  task: [unclosed\n- name: b\n", ".yaml",
     "line 3, column 7: not valid YAML: expected ',' or ']'"),
    ("- name: a\n  task: ok\n- name: b\n  check: true\n", ".yaml",
     "line 3 (entry 2): missing field 'task'"),
    ("- name: a\n  task: ok\n  chek: x\n", ".yml", "line 1 (entry 1): unknown field 'chek'"),
    ("name: a\ntask: b\n", ".yaml", "must be a list of tasks"),
    ('[{"name": "a", "task": "x"},\n {"name": "b" "task": "y"}]', ".json",
     "line 2, column 15: not valid JSON"),
    ("- task: 12\n", ".yaml", "field 'task' must be a non-empty string"),
])
def test_bad_tasks_file_says_where_and_what(env: FakeLLM, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            content: str, suffix: str, words: str) -> None:
    tasks = write(tmp_path / f"tasks{suffix}", content)
    code = main(["calibrate", "--workspace", str(tmp_path / "ws"), "--tasks", str(tasks)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.startswith(f"open-agent calibrate: {tasks}") and words in err
    assert err.count("\n") == 1
    assert env.requests == [] and not (tmp_path / "ws").exists()


def test_missing_tasks_file(env: FakeLLM, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["calibrate", "--workspace", str(tmp_path), "--tasks", str(tmp_path / "no.yaml")])
    assert code == 2
    assert "cannot read tasks file" in capsys.readouterr().err


def test_missing_key_says_how_to_set_it(env: FakeLLM, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY")
    code = main(["calibrate", "--workspace", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "OPENROUTER_API_KEY is not set" in err and "export OPENROUTER_API_KEY=" in err
    assert env.requests == []


def test_unwritable_workspace(env: FakeLLM, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    blocker = write(tmp_path / "a-file", "")
    code = main(["calibrate", "--workspace", str(blocker / "ws")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"workspace {blocker / 'ws'} is not writable: Not a directory" in err
    assert env.requests == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_workspace(env: FakeLLM, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    workspace = tmp_path / "ro"
    workspace.mkdir(mode=0o500)
    try:
        code = main(["calibrate", "--workspace", str(workspace)])
    finally:
        workspace.chmod(0o700)
    assert code == 2 and "is not writable: Permission denied" in capsys.readouterr().err


def test_ctrl_c_fits_and_writes_what_was_measured(fake_llm: FakeLLM, tmp_path: Path) -> None:
    tasks = write(tmp_path / "tasks.yaml", TASKS_YAML)
    workspace = tmp_path / "ws"
    # The first task finishes; the second task's first answer hangs until it is interrupted.
    fake_llm.script(call("write_file", {"path": "hello.py", "content": "print('hi')\n"}),
                    text("Wrote hello.py."), Reply(content="", delay=30))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "WORKING"))}
    env.update(OPENROUTER_API_KEY="test-key", OPENROUTER_BASE_URL=fake_llm.base_url,
               DEFAULT_MODEL=fake_llm.model, LLM_MAX_RETRIES="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "open_agent_jupyter.cli", "calibrate", "--workspace",
         str(workspace), "--tasks", str(tasks), "--write-tuning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # wait until the second task is running
        seen.append(line)
        if line.startswith("[2/2] notes: running"):
            break
    assert any("[1/2] hello: completed" in s for s in seen), seen
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "Interrupted by Ctrl-C: using the 1 of 2 task(s)" in out
    doc = json.loads((workspace / ".open_agent" / "tuning.json").read_text())
    assert doc["fit"]["tasks"] == 1 and doc["fit"]["interrupted"] is True


class Terminal(io.StringIO):
    """A text stream that says it is a terminal (what the bar draws on)."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_on_a_terminal() -> None:
    term = Terminal()
    bar = ProgressBar(term, width=10)
    task = CalibrationTask("hello", "say hello")
    bar.started(2, 4, task)
    bar.update(RunState(iterations=3, usage=Usage(prompt_tokens=1000, cost_usd=0.5)))
    drawn = term.getvalue().rsplit("\r\x1b[2K", 1)[1]
    assert re.fullmatch(r"\[##--------\] 2/4 hello · iteration 3 · 1,000 tokens · \$0\.5000 · \d+s",
                        drawn)
    measured = Measurement(name="hello", task="say hello", folder="f", status="failed",
                           success=False, iterations=3, prompt_tokens=1000,
                           completion_tokens=0, cost_usd=0.5, error="budget spent\nmore")
    bar.finished(2, 4, measured)
    last = term.getvalue().rsplit("\r\x1b[2K", 1)[1]
    assert re.fullmatch(r"\[2/4\] hello: failed · 3 iterations · 1,000 tokens · \$0\.5000 · \d+s"
                        r" — budget spent\n", last)
