"""run_command inside bubblewrap: what a sandboxed command can read, write and reach."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

import pytest

from open_agent_jupyter.config import Settings
from open_agent_jupyter.tools import ToolContext, ToolResult, default_registry
from open_agent_jupyter.tools.sandbox import SandboxProfile, wrap
from tests.tools.conftest import WebServer

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="needs bubblewrap (scripts/install-system-deps.sh)")
SECRET = "jpserver-secret-token-123"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own holding Jupyter's runtime files (with a token) and a key file."""
    home = tmp_path / "home"
    runtime = home / ".local" / "share" / "jupyter" / "runtime"
    runtime.mkdir(parents=True)
    (runtime / "jpserver-1.json").write_text(f'{{"token": "{SECRET}"}}')
    (home / ".secret-key").write_text(SECRET)
    monkeypatch.setenv("HOME", str(home))
    for name in ("JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


def _sandboxed(settings: Settings, work: Path, network: bool = True) -> ToolContext:
    work.mkdir(parents=True, exist_ok=True)
    return ToolContext(dataclasses.replace(settings, sandbox="bubblewrap", working_dir=str(work),
                                           sandbox_network=network))


async def _run(ctx: ToolContext, command: str) -> ToolResult:
    return await default_registry().execute("run_command", {"command": command,
                                                            "timeout_secs": 30}, ctx)


@pytest.mark.parametrize("where", ["outside", "inside", "is"])
async def test_the_home_and_jupyter_runtime_files_are_hidden(settings: Settings, home: Path,
                                                             tmp_path: Path, where: str) -> None:
    work = {"outside": tmp_path / "work", "inside": home / "project", "is": home}[where]
    ctx = _sandboxed(settings, work)
    runtime = home / ".local/share/jupyter/runtime"
    result = await _run(ctx, f"ls -a {runtime}; cat {runtime}/jpserver-1.json")
    assert not result.ok and SECRET not in result.output
    assert "[sandbox]" in result.output  # the model is told why
    if where != "is":  # the working dir is the home: the home is what the task may use
        hidden = await _run(ctx, "cat ~/.secret-key")
        assert not hidden.ok and SECRET not in hidden.output
    made = await _run(ctx, "echo made > made.txt && cat made.txt")
    assert made.ok and (work / "made.txt").read_text() == "made\n"


async def test_nothing_outside_the_working_dir_can_be_written(settings: Settings, home: Path,
                                                              tmp_path: Path) -> None:
    ctx = _sandboxed(settings, tmp_path / "work")
    outside = tmp_path / "outside.txt"  # under /tmp: the sandbox's /tmp is its own
    await _run(ctx, f"echo x > {outside}")
    assert not outside.exists()
    in_home = await _run(ctx, "echo x > ~/new-file")
    assert not in_home.ok and "Read-only file system" in in_home.output
    assert not (home / "new-file").exists()
    system = await _run(ctx, "touch /usr/local/sandbox-test")
    assert not system.ok and "Read-only file system" in system.output
    assert "[sandbox]" in system.output and str(tmp_path / "work") in system.output
    scratch = await _run(ctx, "echo t > /tmp/scratch && cat /tmp/scratch")
    assert scratch.ok and not Path("/tmp/scratch").exists()  # a private /tmp


async def test_other_processes_are_not_visible(settings: Settings, home: Path,
                                               tmp_path: Path) -> None:
    ctx = _sandboxed(settings, tmp_path / "work")
    result = await _run(ctx, f"ls /proc | grep -c '^[0-9]'; cat /proc/{os.getpid()}/cmdline")
    stdout = result.output.split("stdout:\n")[1].split("\nstderr:")[0]
    assert int(stdout.split()[0]) < 10 and "pytest" not in stdout
    assert (await _run(ctx, "ls /proc")).ok  # its own /proc is there


async def test_no_network_when_it_is_off(settings: Settings, home: Path, tmp_path: Path,
                                         web_server: WebServer) -> None:
    fetch = (f"{sys.executable} -c \"import urllib.request as u; "
             f"print(u.urlopen('{web_server.base_url}/data.json', timeout=5).status)\"")
    online = await _run(_sandboxed(settings, tmp_path / "work"), fetch)
    assert online.ok and "200" in online.output  # the sandbox itself lets the request through
    offline = await _run(_sandboxed(settings, tmp_path / "work", network=False), fetch)
    assert not offline.ok and "200" not in offline.output
    assert "no network (SANDBOX_NETWORK=false)" in offline.output
    assert len(web_server.requests) == 1


def test_the_command_line_is_reusable_by_other_launchers(tmp_path: Path) -> None:
    profile = SandboxProfile(tmp_path / "work", network=False, hidden=(tmp_path / "hidden",),
                             visible=())
    (tmp_path / "hidden").mkdir()
    argv = wrap(profile, ["python", "-m", "ipykernel_launcher"], tmp_path / "work")
    assert argv[0].endswith("bwrap") and argv[-4:] == ["--", "python", "-m",
                                                        "ipykernel_launcher"]
    assert "--unshare-net" in argv and ["--tmpfs", str(tmp_path / "hidden")] == \
        argv[argv.index(str(tmp_path / "hidden")) - 1:argv.index(str(tmp_path / "hidden")) + 1]


async def test_file_and_git_tools_keep_the_sandbox_walls(settings: Settings, home: Path,
                                                         tmp_path: Path) -> None:
    ctx = _sandboxed(settings, tmp_path / "work")
    registry = default_registry()
    runtime = home / ".local/share/jupyter/runtime"
    (tmp_path / "work" / "link").symlink_to(runtime)  # a link cannot lead out either
    for name, arguments in [("read_file", {"path": str(runtime / "jpserver-1.json")}),
                            ("read_file", {"path": "link/jpserver-1.json"}),
                            ("list_directory", {"path": str(home)}),
                            ("grep_search", {"pattern": "token", "path": str(runtime)}),
                            ("write_file", {"path": str(tmp_path / "outside.txt"),
                                            "content": "x"}),
                            ("delete_file", {"path": str(home / ".secret-key")})]:
        result = await registry.execute(name, arguments, ctx)
        assert not result.ok and "sandbox" in result.output.lower(), (name, result.output)
        assert SECRET not in result.output
    assert (home / ".secret-key").exists() and not (tmp_path / "outside.txt").exists()
    written = await registry.execute("write_file", {"path": "inside.txt", "content": "ok"}, ctx)
    assert written.ok and (tmp_path / "work" / "inside.txt").read_text() == "ok"
    assert (await registry.execute("read_file", {"path": "inside.txt"}, ctx)).ok
