"""The package imports without side effects and exposes what Jupyter and users look for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import open_agent_jupyter


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = ("import sys, open_agent_jupyter; "
            "heavy = [m for m in ('jupyter_server', 'tornado', 'IPython', 'ipywidgets', 'httpx', "
            "'git') if m in sys.modules]; print(heavy)")
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]" and done.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_extension_points() -> None:
    points = open_agent_jupyter._jupyter_server_extension_points()
    assert points[0]["module"] == "open_agent_jupyter.server.app"
    assert points[0]["app"].__name__ == "OpenAgent"
    assert callable(open_agent_jupyter.load_ipython_extension)
    assert open_agent_jupyter.AgentClient.__name__ == "AgentClient"


def test_extension_is_enabled_on_install() -> None:
    done = subprocess.run([sys.executable, "-m", "jupyter", "server", "extension", "list"],
                          capture_output=True, text=True, timeout=120)
    listing = done.stdout + done.stderr
    assert "open_agent_jupyter" in listing and "enabled" in listing
