"""``open-agent run`` approvals: the y / n / always prompt through a pseudo-terminal
(pexpect), and no terminal at all (every ``ask`` is denied at once, nothing hangs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pexpect
import pytest

from tests.cli.test_run import cli_env, open_agent
from tests.fakellm import FakeLLM, call, calls, text

PROMPT = r"\[y\]es / \[n\]o \(\+ reason\) / \[a\]lways: "


def spawn(args: list[str], env: dict[str, str], cwd: Path) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "open_agent_jupyter.cli", *args], env=env,
                         cwd=str(cwd), encoding="utf-8", timeout=120)


def test_prompt_yes_no_and_always_on_a_terminal(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.script(
        call("write_file", {"path": "a.txt", "content": "a"}),
        call("delete_file", {"path": "keep.txt"}),
        calls([("write_file", {"path": "b.txt", "content": "b"}),
               ("write_file", {"path": "b.txt", "content": "b2"})]),
        text("Done."))
    (tmp_path / "keep.txt").write_text("precious")
    child = spawn(["run", "--approvals", "ask", "make", "files"], cli_env(fake_llm), tmp_path)
    child.expect(r"allow write_file\(path=\"a.txt\"")
    child.expect(PROMPT)
    child.sendline("maybe")  # not an answer: asked again
    child.expect(PROMPT)
    child.sendline("y")
    child.expect(r"allow delete_file\(path=\"keep.txt\"")
    child.expect(PROMPT)
    child.sendline("n keep that one")
    child.expect(r"allow write_file\(path=\"b.txt\"")
    child.expect(PROMPT)
    child.sendline("always")  # the second b.txt write of the same turn is not asked
    child.expect("completed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (tmp_path / "a.txt").read_text() == "a" and (tmp_path / "b.txt").read_text() == "b2"
    assert (tmp_path / "keep.txt").exists()
    tool_results = [m["content"] for m in fake_llm.chat_requests()[2]["messages"]
                    if m["role"] == "tool"]
    assert "keep that one" in tool_results[1]
    assert child.before.count("allow write_file(path=\"b.txt\"") == 0  # asked once only


def test_without_a_terminal_every_ask_is_denied_at_once(fake_llm: FakeLLM,
                                                        tmp_path: Path) -> None:
    fake_llm.script(call("run_command", {"command": "touch made.txt"}), text("Could not."))
    done = open_agent(["run", "--approvals", "ask", "--approval-timeout", "300", "make", "it"],
                      cli_env(fake_llm), tmp_path)  # stdin is not a terminal
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "made.txt").exists()
    assert "⚑ approval needed for run_command" in done.stdout
    assert "run_command expired by policy (timeout)" in done.stdout


@pytest.mark.parametrize(("env", "args", "words"), [
    ({"APPROVALS_MAX": "ask"}, ["--approvals", "auto"], "approvals 'auto' is looser"),
    ({"ALLOWED_MODELS": "other/*"}, [], "'model'"),
])
def test_refusals_are_usage_errors(fake_llm: FakeLLM, tmp_path: Path, env: dict[str, str],
                                   args: list[str], words: str) -> None:
    done = open_agent(["run", *args, "x"], cli_env(fake_llm, **env), tmp_path)
    assert done.returncode == 2 and words in done.stderr
