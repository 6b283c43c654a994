"""The optional command sandbox (``SANDBOX=bubblewrap``): the ``bwrap`` command line.

Inside the sandbox a command sees the whole file system read-only, except:

- the task's working dir, writable (bound at its own path);
- a private, empty ``/tmp`` (writable, gone when the command ends: what a command writes
  to a path under ``/tmp`` outside the working dir never reaches the real ``/tmp``);
- the user's home, hidden behind an empty read-only directory — but for the working dir and the
  Python installation in use (``sys.prefix``, ``sys.base_prefix``), kept read-only when they
  sit in the home or under ``/tmp`` (a virtual environment made there);
- Jupyter's runtime and data dirs (``jupyter --runtime-dir``, ``jupyter --data-dir``: the
  server's token files and the task database), hidden (empty, read-only) even inside the
  working dir;
- other processes: a new PID namespace with its own ``/proc``;
- the network, only with ``SANDBOX_NETWORK=false`` (a new network namespace with nothing
  but its own loopback: no local service of the host is reachable either).

``--die-with-parent`` ends the sandbox (and, through its PID namespace, everything in it)
when the server dies. Running it needs ``bwrap`` (Debian/Ubuntu: ``apt-get install
bubblewrap``) and, for a user other than root, unprivileged user namespaces
(``kernel.unprivileged_userns_clone=1``; Ubuntu 24.04's AppArmor restriction must allow
``bwrap``). ``config.Settings.validated`` refuses ``SANDBOX=bubblewrap`` without ``bwrap``.
The file and git tools keep the same walls (``path_refusal``, through ``ToolContext.resolve``):
they cannot read what is hidden and write only inside the working dir.

The seam for other launchers: ``wrap(profile, argv, cwd)`` returns a command line that runs
``argv`` inside the sandbox, so a task's own kernel can be started the same way (prefix the
kernel's launch command; its connection file must then live in a path the kernel can read,
e.g. under the working dir, since the runtime dir is hidden).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings

#: Words in a sandboxed command's output that mean the sandbox refused something.
REFUSALS = ("Read-only file system", "Permission denied", "No such file or directory")
NETWORK_REFUSALS = ("Could not resolve host", "Temporary failure in name resolution",
                    "Network is unreachable", "Name or service not known",
                    "Failed to connect", "Connection refused")


@dataclass(frozen=True)
class SandboxProfile:
    """What a sandboxed command may see and do."""

    working_dir: Path
    network: bool = True
    #: Directories replaced by an empty one (home, Jupyter's runtime and data dirs).
    hidden: tuple[Path, ...] = field(default_factory=lambda: default_hidden())
    #: Directories kept visible (read-only) inside a hidden one: the Python in use.
    visible: tuple[Path, ...] = field(default_factory=lambda: python_dirs())


def profile_for(settings: Settings) -> SandboxProfile | None:
    """The sandbox of a task with ``settings``, or None without one (``SANDBOX=none``)."""
    if settings.sandbox != "bubblewrap":
        return None
    working_dir = Path(settings.working_dir).expanduser().resolve()
    return SandboxProfile(working_dir, network=settings.sandbox_network)


def default_hidden() -> tuple[Path, ...]:
    """The user's home, and Jupyter's runtime and data dirs wherever they are."""
    found = [Path.home()]
    try:
        from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir
    except ImportError:  # the engine runs without Jupyter too; these are the defaults then
        data = Path(os.environ.get("JUPYTER_DATA_DIR") or Path.home() / ".local/share/jupyter")
        found += [Path(os.environ.get("JUPYTER_RUNTIME_DIR") or data / "runtime"), data]
    else:
        found += [Path(jupyter_runtime_dir()), Path(jupyter_data_dir())]
    return tuple(_real(path) for path in found)


def python_dirs() -> tuple[Path, ...]:
    """The Python installation in use (a virtual environment and the one it is made from)."""
    dirs = {_real(Path(sys.prefix)), _real(Path(sys.base_prefix)),
            _real(Path(sys.executable)).parent.parent}
    return tuple(sorted(dirs))


def bwrap_path() -> str:
    """The ``bwrap`` program (``Settings.validated`` has checked that there is one)."""
    return shutil.which("bwrap") or "bwrap"


def wrap(profile: SandboxProfile, argv: list[str], cwd: Path) -> list[str]:
    """The command line that runs ``argv`` in ``cwd`` inside the sandbox."""
    args = [bwrap_path(), "--die-with-parent", "--unshare-pid", "--unshare-ipc",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp"]
    tmp = _real(Path("/tmp"))
    for kept in profile.visible:  # a Python in use under /tmp (a venv there) stays usable
        if _within(kept, tmp) and kept.is_dir():
            args += ["--ro-bind", str(kept), str(kept)]
    if not profile.network:
        args.append("--unshare-net")
    work, home = profile.working_dir, _real(Path.home())
    if _within(home, work):  # the home is inside the working dir: hidden there too
        args += ["--bind", str(work), str(work), *_hide_home(profile, home)]
    else:
        args += [*_hide_home(profile, home), "--bind", str(work), str(work)]
    for hidden in profile.hidden:
        if hidden == home or _within(work, hidden, strict=False) or not hidden.is_dir():
            continue  # a dir that holds the working dir stays visible
        if _within(hidden, home) and not _within(hidden, work):
            continue  # already hidden with the home
        args += ["--tmpfs", str(hidden), "--remount-ro", str(hidden)]
    if _hides_home(home, work):
        args += ["--remount-ro", str(home)]  # after the binds inside it: those stay as they are
    return [*args, "--chdir", str(cwd), "--", *argv]


def path_refusal(profile: SandboxProfile, path: Path, write: bool = False) -> str | None:
    """Why a file or git tool may not use ``path`` under the sandbox, or None.

    The same walls as ``wrap``: hidden dirs cannot be read, and only the working dir can be
    written (symbolic links are followed, so a link cannot lead out).
    """
    real, work, home = _real(path), profile.working_dir, _real(Path.home())
    if write and not _within(real, work, strict=False):
        return (f"{path} is outside the working dir {work}: with SANDBOX=bubblewrap the tools "
                "write only inside it")
    for hidden in profile.hidden:
        if hidden == home:
            kept = any(_within(real, v, strict=False) for v in profile.visible)
            if _hides_home(home, work) and _within(real, home, strict=False) \
                    and not _within(real, work, strict=False) and not kept:
                return f"{path} is hidden by the sandbox (the home directory, SANDBOX=bubblewrap)"
        elif _within(real, hidden, strict=False) and not _within(work, hidden, strict=False):
            return f"{path} is hidden by the sandbox (Jupyter's runtime or data dir)"
    return None


def _hide_home(profile: SandboxProfile, home: Path) -> list[str]:
    """An empty home, with the Python in use (when it lives there) kept read-only."""
    if not _hides_home(home, profile.working_dir):
        return []
    args = ["--tmpfs", str(home)]
    for kept in profile.visible:
        if _within(kept, home) and kept.is_dir():
            args += ["--ro-bind", str(kept), str(kept)]
    return args


def refusal_note(output: str, profile: SandboxProfile) -> str | None:
    """A note for the model when a sandboxed command met one of the sandbox's walls."""
    notes = []
    if any(word in output for word in REFUSALS):
        notes.append(f"only the working dir {profile.working_dir} and a private /tmp are "
                     "writable; the home directory, Jupyter's runtime and data dirs and other "
                     "processes are hidden")
    if not profile.network and any(word in output for word in NETWORK_REFUSALS):
        notes.append("there is no network (SANDBOX_NETWORK=false)")
    if not notes:
        return None
    return ("[sandbox] This command ran in the bubblewrap sandbox, which may have refused it: "
            + "; ".join(notes) + ". Work inside the working dir, or ask the user.")


def _hides_home(home: Path, work: Path) -> bool:
    """Whether the home is hidden: not when it is the working dir (or inside it as ``/``)."""
    return home.is_dir() and home != Path("/") and home != work


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _within(path: Path, parent: Path, strict: bool = True) -> bool:
    """Whether ``path`` is inside ``parent`` (or is it, unless ``strict``)."""
    if path == parent:
        return not strict
    return parent in path.parents
