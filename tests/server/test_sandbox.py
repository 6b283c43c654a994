"""A real task whose commands run in the bubblewrap sandbox; a missing bwrap stops it at start."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from open_agent_jupyter.exceptions import ConfigError
from tests.fakellm import FakeLLM, call, text

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="needs bubblewrap (scripts/install-system-deps.sh)")


@pytest.fixture
def agent_config(agent_config: dict[str, Any]) -> dict[str, Any]:
    """The extension's settings with the sandbox on and its network off."""
    return {**agent_config, "sandbox": "bubblewrap", "sandbox_network": False}


async def test_a_task_completes_inside_the_sandbox(api: Any, extension: Any, fake_llm: FakeLLM,
                                                   work_dir: Path) -> None:
    runtime = Path(extension.serverapp.runtime_dir)
    fake_llm.script(
        call("run_command", {"command": "echo from-the-sandbox > made.txt && cat made.txt"}),
        call("run_command", {"command": f"ls -a {runtime}"}),
        text("done"))
    _, created = await api("POST", "api/task", {"task": "make a file"})
    task = await (await extension.ensure_started()).wait(created["id"])
    assert task.status.value == "completed" and task.result == "done"
    assert (work_dir / "made.txt").read_text() == "from-the-sandbox\n"
    _, body = await api("GET", f"api/task/{created['id']}")
    listing = [e for e in body["log"] if e["entry_type"] == "tool_result"][1]["content"]
    shown = list(runtime.iterdir())
    assert shown and not any(p.name in listing for p in shown)  # the runtime dir is hidden


def test_a_missing_bwrap_is_an_error_at_start(extension: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on PATH: never a silent fallback
    with pytest.raises(ConfigError, match="SANDBOX=bubblewrap needs the bwrap program"):
        extension.build_settings()
