"""Build the JupyterLab extension, or check that the committed build matches its source.

The TypeScript in ``labextension/`` is the source of truth. The built (federated)
extension is committed in ``open_agent_jupyter/labextension/`` so that ``pip install``
needs no node; the wheel puts it in ``share/jupyter/labextensions/open-agent-jupyterlab``.
``build_source.json`` in the build records a SHA-256 of every input of the build.

    python scripts/build_labextension.py          # rebuild (needs node and npm)
    python scripts/build_labextension.py --check  # fail if the build is stale (no node)

The build runs ``npm ci``, ``tsc`` and ``@jupyterlab/builder`` against the JupyterLab
installed in this Python environment (its ``staging`` folder names the shared
packages), then writes the stamp.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "labextension"
OUTPUT = ROOT / "open_agent_jupyter" / "labextension"
STAMP = OUTPUT / "build_source.json"
#: Inputs of the build (files, or folders taken whole); tests and lint configs are not.
INPUTS = ("src", "style", "package.json", "package-lock.json", "tsconfig.json")


def source_files(source: Path = SOURCE) -> list[Path]:
    """Every input file of the build, in a fixed order."""
    files: list[Path] = []
    for name in INPUTS:
        path = source / name
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files


def source_hash(source: Path = SOURCE) -> str:
    """SHA-256 over the inputs' relative paths and bytes (line ends normalised)."""
    digest = hashlib.sha256()
    for path in source_files(source):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def check(source: Path = SOURCE, stamp: Path = STAMP) -> int:
    """0 when the committed build was made from the current sources, else 1 with a message."""
    try:
        recorded = json.loads(stamp.read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        print(f"{stamp} is missing or unreadable: run python scripts/build_labextension.py")
        return 1
    if recorded != source_hash(source):
        print("The built lab extension does not match labextension/ (its sources changed "
              "since the last build): run python scripts/build_labextension.py and commit "
              "open_agent_jupyter/labextension/.")
        return 1
    return 0


def run(*command: str) -> None:
    """Run a command in labextension/, failing loudly."""
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=SOURCE, check=True)


def build() -> int:
    """npm ci, tsc, the federated build, the stamp."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        print("building the lab extension needs node and npm (the committed build works without)")
        return 2
    import jupyterlab

    core = Path(jupyterlab.__file__).parent / "staging"
    installed = SOURCE / "node_modules" / ".package-lock.json"
    lock = SOURCE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run("npm", "ci", "--no-audit", "--no-fund")
    shutil.rmtree(SOURCE / "lib", ignore_errors=True)
    (SOURCE / "tsconfig.tsbuildinfo").unlink(missing_ok=True)
    run("npx", "tsc")
    shutil.rmtree(OUTPUT / "static", ignore_errors=True)
    builder = SOURCE / "node_modules" / "@jupyterlab" / "builder" / "lib" / "build-labextension.js"
    run("node", str(builder), "--core-path", str(core), str(SOURCE))
    STAMP.write_text(json.dumps({"sha256": source_hash()}, indent=1) + "\n")
    print(f"built {OUTPUT}")
    return 0


def main() -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the committed build")
    args = parser.parse_args()
    os.chdir(ROOT)
    return check() if args.check else build()


if __name__ == "__main__":
    sys.exit(main())
