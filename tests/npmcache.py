"""Programs from npm for the tests (OpenCode, JupyterHub's proxy): on PATH, or in a cache folder.

A clean machine has neither; the first test that needs one installs the pinned package into
``~/.cache/open-agent-jupyter/<folder>`` (or ``$XDG_CACHE_HOME``), and later runs reuse it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "open-agent-jupyter"


def npm_program(command: str, package: str, cache: Path, candidates: tuple[str, ...]) -> Path:
    """``command`` on PATH, else one of ``candidates`` under ``cache`` (npm-installing first)."""
    on_path = shutil.which(command)
    if on_path:
        return Path(on_path)
    found = [cache / name for name in candidates if (cache / name).exists()]
    if found:
        return found[0]
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(f"{command} is not installed and npm is missing to install it")
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), package],
                   check=True, timeout=600)
    found = [cache / name for name in candidates if (cache / name).exists()]
    if not found:
        raise FileNotFoundError(f"npm installed {package} but no {command} in {cache}")
    return found[0]
