"""Git tools through GitPython: git_status, git_diff, git_commit, git_log.

The only module of the package that imports ``git``. Each tool body runs in a
worker thread (GitPython calls the ``git`` binary synchronously). ``repo_path``
may be any folder inside a repository. ``file``/``files`` paths are relative to
``repo_path`` (or absolute). Commits go through ``git commit`` itself, so hooks
and the user's identity settings apply; a missing identity is reported with the
commands that fix it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import git

from .base import OUTPUT_LIMIT, Tool, ToolContext, ToolError, ToolResult

#: Seconds a git command (including hooks) may run before it is killed.
GIT_TIMEOUT = 120.0
_REPO_PATH = {"type": "string", "description": "Folder in the repository (default: working dir)"}
_IDENTITY_HINTS = ("please tell me who you are", "empty ident", "unable to auto-detect email",
                   "no email was given")


def open_repo(path: Path) -> git.Repo:
    """The repository containing ``path``; ``ToolError`` when there is none."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except git.NoSuchPathError:
        raise ToolError(f"no such directory: {path}") from None
    except git.InvalidGitRepositoryError:
        raise ToolError(f"not a git repository: {path} (create one with run_command "
                        "`git init`)") from None
    if repo.bare:
        raise ToolError(f"{repo.git_dir} is a bare repository (no working tree)")
    return repo


def _git(repo: git.Repo, *args: str) -> str:
    """Run ``git <args>`` in the repo; a failure becomes ``ToolError`` with git's message."""
    # Bytes, decoded here with "replace": GitPython's surrogate escapes cannot go into JSON.
    status, stdout, stderr = repo.git.execute(
        ["git", *args], with_extended_output=True, with_exceptions=False,
        stdout_as_string=False, strip_newline_in_stdout=False,
        istream=subprocess.DEVNULL, kill_after_timeout=GIT_TIMEOUT)
    out = stdout.decode("utf-8", "replace")
    if status != 0:
        err = stderr.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise ToolError(f"git {args[0]} failed: {(err or out or f'exit code {status}').strip()}")
    return out


def _relative(repo: git.Repo, base: Path, name: str) -> str:
    """``name`` (relative to ``base`` or absolute) as a path relative to the repo root."""
    target = Path(name) if Path(name).is_absolute() else base / name
    root = Path(repo.working_tree_dir or ".").resolve()
    try:
        return os.path.relpath(target.resolve(), root)
    except ValueError:  # another drive on Windows
        raise ToolError(f"{name} is outside the repository {root}") from None


class GitStatus(Tool):
    """Show the working tree status."""

    name = "git_status"
    description = "Show branch and changed/untracked files (git status --short --branch)."
    parameters = {"type": "object", "properties": {"repo_path": _REPO_PATH}}

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Status in a thread."""
        return await asyncio.to_thread(_status, ctx.resolve(arguments.get("repo_path")))


def _status(path: Path) -> ToolResult:
    repo = open_repo(path)
    text = _git(repo, "status", "--short", "--branch").rstrip()
    if len(text.splitlines()) <= 1:
        text += "\nnothing to commit, working tree clean"
    return ToolResult(ok=True, output=f"Repository {repo.working_tree_dir}\n{text}")


class GitDiff(Tool):
    """Show changes."""

    name = "git_diff"
    description = "Show unstaged changes, or staged ones with staged=true; optionally one file."
    parameters = {
        "type": "object",
        "properties": {
            "repo_path": _REPO_PATH,
            "staged": {"type": "boolean", "default": False},
            "file": {"type": "string"},
        },
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Diff in a thread."""
        return await asyncio.to_thread(_diff, ctx.resolve(arguments.get("repo_path")),
                                       bool(arguments.get("staged")), arguments.get("file"))


def _diff(path: Path, staged: bool, file: str | None) -> ToolResult:
    repo = open_repo(path)
    args = ["diff", "--no-color", "--no-ext-diff"] + (["--cached"] if staged else [])
    paths: list[str] = []
    if file:
        rel = _relative(repo, path, file)
        tracked = _git(repo, "ls-files", "--", rel).strip()
        if not tracked:
            exists = (Path(repo.working_tree_dir or ".") / rel).exists()
            raise ToolError(f"{file} is untracked (not added yet); git diff shows nothing for it"
                            if exists else f"unknown file: {file} (not in the repository)")
        paths = ["--", rel]
    diff = _git(repo, *args, *paths)
    if not diff.strip():
        kind = "staged" if staged else "unstaged"
        return ToolResult(ok=True, output=f"No {kind} changes" + (f" in {file}" if file else ""))
    if len(diff) > OUTPUT_LIMIT:
        # The registry keeps head and tail of a long diff; the summary names every file.
        diff = _git(repo, *args, "--stat", *paths) + "\n" + diff
    return ToolResult(ok=True, output=diff)


class GitCommit(Tool):
    """Stage and commit."""

    name = "git_commit"
    description = "Stage files (all changes incl. untracked when files is absent) and commit."
    parameters = {
        "type": "object",
        "properties": {
            "message": {"type": "string", "minLength": 1},
            "repo_path": _REPO_PATH,
            "files": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["message"],
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Commit in a thread."""
        return await asyncio.to_thread(_commit, ctx.resolve(arguments.get("repo_path"), write=True),
                                       arguments["message"], arguments.get("files"))


def _commit(path: Path, message: str, files: list[str] | None) -> ToolResult:
    repo = open_repo(path)
    paths: list[str] = []
    if files:
        paths = [_relative(repo, path, name) for name in files]
        try:
            _git(repo, "add", "--", *paths)
        except ToolError as exc:
            raise ToolError(f"unknown file(s): {exc}") from None
    else:
        _git(repo, "add", "--all")
    if not _git(repo, "status", "--porcelain", "--untracked-files=no", "--", *paths).strip():
        raise ToolError("nothing to commit (no changes" + (" in those files" if files else "")
                        + "); check git_status")
    try:
        out = _git(repo, "commit", "-m", message, "--", *paths)
    except ToolError as exc:
        if any(hint in str(exc).lower() for hint in _IDENTITY_HINTS):
            raise ToolError(
                "no git identity configured; set one with run_command, e.g. "
                "`git config user.name \"Your Name\"` and `git config user.email you@example.com` "
                f"in {repo.working_tree_dir}, then commit again") from None
        raise
    return ToolResult(ok=True, output=out.strip())


class GitLog(Tool):
    """Show recent commits."""

    name = "git_log"
    description = "Show recent commits (oneline: hash date author subject; else full with stats)."
    parameters = {
        "type": "object",
        "properties": {
            "repo_path": _REPO_PATH,
            "num_commits": {"type": "integer", "minimum": 1, "maximum": 200, "default": 10},
            "oneline": {"type": "boolean", "default": True},
        },
    }

    async def run(self, ctx: ToolContext, **arguments: Any) -> ToolResult:
        """Log in a thread."""
        count = arguments.get("num_commits") or 10
        oneline = arguments.get("oneline", True)
        return await asyncio.to_thread(_log, ctx.resolve(arguments.get("repo_path")),
                                       count, oneline)


def _log(path: Path, count: int, oneline: bool) -> ToolResult:
    repo = open_repo(path)
    if not repo.head.is_valid():
        return ToolResult(ok=True, output="No commits yet")
    fmt = (["--format=%h %ad %an: %s", "--date=short"] if oneline
           else ["--stat", "--date=iso", "--no-color"])
    return ToolResult(ok=True, output=_git(repo, "log", f"-n{count}", *fmt).strip())
