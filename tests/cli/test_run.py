"""``open-agent run`` as a real subprocess against the loopback fake LLM."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakellm import FakeLLM, call, fault, text
from tests.process_utils import processes_running


def cli_env(fake_llm: FakeLLM, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENROUTER_", "DEFAULT_MODEL", "MAX_ITERATIONS", "AGENT_BACKEND"))}
    env.update(OPENROUTER_API_KEY="test-key", OPENROUTER_BASE_URL=fake_llm.base_url,
               DEFAULT_MODEL=fake_llm.model, LLM_MAX_RETRIES="1")
    env.update(extra)
    return env


def open_agent(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "open_agent_jupyter.cli", *args], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def test_run_prints_live_log_and_exits_0(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script(call("write_file", {"path": "hello.py", "content": "print('hi')\n"}),
                    text("Wrote **hello.py**."))
    done = open_agent(["run", "write", "hello"], cli_env(fake_llm), tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "hello.py").exists()
    out = done.stdout
    assert '→ write_file(path="hello.py"' in out
    assert "← ok" in out and "Wrote **hello.py**." in out
    assert "completed · 2 iterations" in out and "$0.0012" in out
    assert out.startswith("estimate: low complexity, ≈")
    assert fake_llm.chat_requests()[0]["messages"][1]["content"] == "write hello"


def test_run_json_prints_one_entry_per_line(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script(call("list_directory", {"path": "."}), text("listed"))
    done = open_agent(["run", "--json", "--max-iterations", "5", "--working-dir", str(tmp_path),
                       "list"], cli_env(fake_llm), Path.cwd())
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e.get("entry_type") for e in lines[:-1]] == ["tool_call", "tool_result", "response"]
    assert [e["seq"] for e in lines[:-1]] == [1, 2, 3]
    assert lines[-1]["event"] == "done" and lines[-1]["status"] == "completed"
    assert lines[-1]["usage"]["llm_calls"] == 2


def test_run_failed_task_exits_1_with_reason(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script(fault(401, "bad key"))
    done = open_agent(["run", "anything"], cli_env(fake_llm), tmp_path)
    assert done.returncode == 1
    assert "failed" in done.stdout and "invalid API key" in done.stdout
    assert "Traceback" not in done.stderr


def test_unreachable_endpoint_fails_naming_it(fake_llm: FakeLLM, tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9/v1"
    done = open_agent(["run", "anything"], cli_env(fake_llm, OPENROUTER_BASE_URL=dead), tmp_path)
    assert done.returncode == 1
    assert f"could not reach the LLM endpoint {dead} (OPENROUTER_BASE_URL)" in done.stdout


def test_run_without_key_says_how_to_set_it(fake_llm: FakeLLM, tmp_path: Path) -> None:
    env = cli_env(fake_llm)
    del env["OPENROUTER_API_KEY"]
    done = open_agent(["run", "anything"], env, tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "export OPENROUTER_API_KEY=" in done.stderr
    assert fake_llm.requests == []


@pytest.mark.parametrize(("args", "env", "words"), [
    (["run", "x"], {"MAX_ITERATIONS": "many"}, "MAX_ITERATIONS must be a whole number"),
    (["run", "--max-iterations", "0", "x"], {}, "MAX_ITERATIONS must be a whole number >= 1"),
    (["run", "--max-iterations", "two", "x"], {}, "invalid int value"),
    (["run"], {}, "the following arguments are required: task"),
])
def test_run_usage_errors_exit_2(fake_llm: FakeLLM, tmp_path: Path, args: list[str],
                                 env: dict[str, str], words: str) -> None:
    done = open_agent(args, cli_env(fake_llm, **env), tmp_path)
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr


def test_ctrl_c_stops_task_and_its_commands(fake_llm: FakeLLM, tmp_path: Path) -> None:
    marker = f"sleep 47.{random.randrange(10**6)}"  # unique even when suites run side by side
    fake_llm.script(call("run_command", {"command": f"{marker}; echo never"}))
    proc = subprocess.Popen([sys.executable, "-m", "open_agent_jupyter.cli", "run", "wait"],
                            env=cli_env(fake_llm), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not processes_running(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_running(marker), "the command never started"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "cancelled" in out
    assert not processes_running(marker)


def test_run_python_gets_a_kernel_of_its_own_and_shuts_it_down(fake_llm: FakeLLM,
                                                              tmp_path: Path) -> None:
    fake_llm.script(call("python", {"code": "import os\nx = 20\nos.getpid()"}),
                    call("python", {"code": "x + 1"}), text("Ran Python."))
    done = open_agent(["run", "--json", "compute"], cli_env(fake_llm), tmp_path)
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    first, second = [e for e in entries if e.get("entry_type") == "tool_result"]
    assert first["ok"] and second["ok"] and "result:\n21" in second["content"]
    kernel_pid = int(first["content"].split("result:\n")[1].split()[0])
    assert not _alive(kernel_pid)  # the kernel was shut down with the task
    system = fake_llm.chat_requests()[0]["messages"][0]["content"]
    assert "a Python kernel of this task's own" in system


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/status").read_text().count("State:\tZ")


def test_run_export_writes_the_task_as_a_notebook(fake_llm: FakeLLM, tmp_path: Path) -> None:
    import nbformat

    fake_llm.script(call("write_file", {"path": "hello.py", "content": "print('hi')\n"}),
                    call("run_command", {"command": "python3 hello.py"}), text("Ran it."))
    done = open_agent(["run", "--export", "task.ipynb", "write", "and", "run", "hello"],
                      cli_env(fake_llm), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "notebook: task.ipynb" in done.stderr
    nb = nbformat.read(tmp_path / "task.ipynb", as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells[1:]] == ["%%writefile hello.py\nprint('hi')\n",
                                                "%%bash\npython3 hello.py", "## Answer\n\nRan it."]
    assert nb.cells[2].outputs[0]["text"] == "hi\n"
    assert "> write and run hello" in nb.cells[0].source and "✔ completed" in nb.cells[0].source

    bad = open_agent(["run", "--export", "no/such/dir/x.ipynb", "hello"], cli_env(fake_llm),
                     tmp_path)
    assert bad.returncode == 2 and "its folder does not exist" in bad.stderr
