"""Keeping the server's secrets out of the agent's plain reach (DESIGN.md §12.1).

- ``mint_token``: the task API token that kernels get as ``OPEN_AGENT_TOKEN`` instead of
  the Jupyter token; the extension's own handlers accept it for ``/api/task*`` and
  ``/api/tasks*`` only (``TaskTokenAuth``), never kernels, contents or terminals.
- ``scrub_environment``: the LLM key and the Jupyter token leave ``os.environ`` once read,
  so kernels, terminals and commands started later never inherit them.
- ``set_dumpable(False)``: ``PR_SET_DUMPABLE`` 0 makes ``/proc/<server pid>/environ``,
  ``mem`` and friends unreadable (and the process untraceable) for other processes of the
  same user; root keeps access. Children that ``exec`` are dumpable again, so kernels and
  commands are unaffected.
"""

from __future__ import annotations

import ctypes
import getpass
import hmac
import os
import re
import secrets
import sys
from typing import Any

from ..redact import register_secret, unregister_secret

#: Environment variables that hold a credential of the agent or of Jupyter.
SECRET_VARIABLES = ("OPENROUTER_API_KEY", "JUPYTER_TOKEN")
#: Paths (below base_url) where the task API token is accepted.
TASK_PATHS = re.compile(r"/api/tasks?(?:/|$)")
_PR_GET_DUMPABLE, _PR_SET_DUMPABLE = 3, 4


def mint_token() -> str:
    """A fresh random token (256 bits)."""
    return secrets.token_urlsafe(32)


def request_token(headers: Any) -> str | None:
    """The token of an ``Authorization: token T`` (or ``Bearer T``) header."""
    scheme, _, value = (headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return None


def is_task_token(token: str | None, expected: str | None) -> bool:
    """Whether ``token`` is the task API token (compared in constant time)."""
    return bool(token and expected) and hmac.compare_digest(token.encode(), expected.encode())


def task_token_user() -> dict[str, str]:
    """Who a request with the task API token acts as: the server's own user."""
    name = os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
    return {"username": name, "name": name, "display_name": f"{name} (kernel)"}


class TaskTokenAuthorizer:
    """Allows what the task API token opens; only the task handlers ever consult it."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        """Every action on the task API (the token is refused on every other path)."""
        return True


def scrub_environment(names: tuple[str, ...] = SECRET_VARIABLES) -> dict[str, str]:
    """Remove ``names`` from the environment; return what was there (to restore it later).

    Besides ``os.environ`` (what children inherit), the process's initial environment
    block, which ``/proc/<pid>/environ`` shows, is overwritten where those names sit.
    """
    removed = {name: os.environ.pop(name) for name in names if name in os.environ}
    if removed:
        wipe_initial_environment(tuple(removed))
    return removed


def wipe_initial_environment(names: tuple[str, ...]) -> int:
    """Zero the ``NAME=value`` strings of ``names`` in the initial environment block.

    The block is the process's own memory between ``env_start`` and ``env_end`` of
    ``/proc/self/stat``; once a variable is unset nothing points into it, so overwriting
    it is safe. Returns how many strings were wiped (0 where /proc is not available).
    """
    bounds = _environment_block()
    if bounds is None:
        return 0
    start, end = bounds
    block = ctypes.string_at(start, end - start)
    prefixes = tuple(name.encode() + b"=" for name in names)
    wiped, offset = 0, 0
    for entry in block.split(b"\0"):
        if entry.startswith(prefixes):
            ctypes.memset(start + offset, 0, len(entry))
            wiped += 1
        offset += len(entry) + 1
    return wiped


def _environment_block() -> tuple[int, int] | None:
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50, 51)
    except (OSError, IndexError, ValueError):
        return None
    return (start, end) if 0 < start < end else None


def set_dumpable(flag: bool) -> bool | None:
    """Set ``PR_SET_DUMPABLE``; return the previous value, or None where it cannot be set."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        previous = libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0)
        if previous < 0 or libc.prctl(_PR_SET_DUMPABLE, int(flag), 0, 0, 0) != 0:
            return None
    except (OSError, AttributeError):
        return None
    return bool(previous)


class ServerSecrets:
    """One server's secrets and the process state it changed; ``restore`` undoes it all.

    (A test process hosts many servers one after another, so nothing is left behind.)
    """

    def __init__(self) -> None:
        #: What kernels get as OPEN_AGENT_TOKEN: opens /api/task* and /api/tasks* only.
        self.task_token = mint_token()
        self._registered: list[str] = []
        self._scrubbed: dict[str, str] = {}
        self._was_dumpable: bool | None = None

    def register(self, secret: str | None) -> None:
        """Mask ``secret`` in every tool result of this process until ``restore``."""
        if secret:
            register_secret(secret)
            self._registered.append(secret)

    def harden(self) -> None:
        """Secrets out of the environment children inherit; the process not dumpable."""
        self._scrubbed.update(scrub_environment())
        if self._was_dumpable is None:
            self._was_dumpable = set_dumpable(False)

    def restore(self) -> None:
        """Unregister the secrets, put the environment and dumpability back."""
        for secret in self._registered:
            unregister_secret(secret)
        self._registered = []
        os.environ.update(self._scrubbed)
        self._scrubbed = {}
        if self._was_dumpable:
            set_dumpable(True)
        self._was_dumpable = None
