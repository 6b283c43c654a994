"""The JupyterLab extension ships prebuilt: the build matches its TypeScript source, the wheel
carries it, JupyterLab lists it enabled, and the TypeScript unit tests pass (where node is)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_labextension.py"
NAME = "open-agent-jupyterlab"


def _builder():
    spec = importlib.util.spec_from_file_location("build_labextension", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_the_committed_build_was_made_from_the_current_sources() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_fails_once_a_source_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builder = _builder()
    source = tmp_path / "labextension"
    for name in builder.INPUTS:
        origin = builder.SOURCE / name
        if origin.is_dir():
            shutil.copytree(origin, source / name)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy(origin, source / name)
    assert builder.check(source) == 0
    (source / "src" / "index.ts").write_text("// edited without rebuilding\n", encoding="utf-8")
    assert builder.check(source) == 1
    assert "scripts/build_labextension.py" in capsys.readouterr().out


def test_the_build_is_committed_not_ignored() -> None:
    built = [str(p.relative_to(ROOT)) for p in (ROOT / "open_agent_jupyter" / "labextension").rglob("*")
             if p.is_file()]
    assert any("remoteEntry" in p for p in built)
    result = subprocess.run(["git", "check-ignore", *built], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout == ""


def test_the_wheel_carries_the_prebuilt_extension(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
                    str(ROOT)], check=True, timeout=300, capture_output=True)
    wheel = next(tmp_path.glob("open_agent_jupyter-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    share = f"share/jupyter/labextensions/{NAME}/"
    shipped = [n.split(share, 1)[1] for n in names if share in n]
    assert "package.json" in shipped and "install.json" in shipped
    assert any(n.startswith("static/remoteEntry.") for n in shipped)


def test_jupyterlab_lists_it_enabled_without_node() -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no node on this PATH
    result = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], env=env,
                            capture_output=True, text=True, timeout=120)
    line = next((ln for ln in (result.stdout + result.stderr).splitlines() if NAME in ln), "")
    assert "enabled" in line and "OK" in line, result.stdout + result.stderr
    package = json.loads((ROOT / "open_agent_jupyter" / "labextension" / "package.json").read_text())
    assert package["name"] == NAME and package["jupyterlab"]["_build"]["load"].startswith("static/")


@pytest.mark.skipif(shutil.which("npm") is None, reason="node and npm are not installed")
def test_typescript_unit_tests_types_and_lint() -> None:
    """vitest (stream client, row model), strict tsc and eslint + prettier."""
    source = ROOT / "labextension"
    if not (source / "node_modules" / ".bin" / "vitest").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=source, check=True,
                       timeout=900, capture_output=True)
    for command in (["npx", "vitest", "run"], ["npx", "tsc", "--noEmit", "-p", "."],
                    ["npm", "run", "lint"]):
        result = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
