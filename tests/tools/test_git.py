"""git_status, git_diff, git_commit and git_log on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tools.conftest import git_cmd


async def test_status_clean_then_changed(call, repo: Path) -> None:
    clean = await call("git_status")
    assert clean.ok and "## main" in clean.output and "working tree clean" in clean.output
    (repo / "app.py").write_text("print('two')\n")
    (repo / "new.txt").write_text("new\n")
    changed = await call("git_status")
    assert " M app.py" in changed.output and "?? new.txt" in changed.output
    assert "working tree clean" not in changed.output


async def test_status_from_a_subfolder(call, repo: Path) -> None:
    (repo / "pkg").mkdir()
    result = await call("git_status", repo_path="pkg")
    assert result.ok and f"Repository {repo}" in result.output


async def test_not_a_repository(call, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("git_status", "git_diff", "git_log"):
        result = await call(name, repo_path=str(plain))
        assert not result.ok and "not a git repository" in result.output
    commit = await call("git_commit", message="x", repo_path=str(plain))
    assert not commit.ok and "git init" in commit.output
    missing = await call("git_status", repo_path=str(tmp_path / "nowhere"))
    assert not missing.ok and "no such directory" in missing.output


async def test_diff_unstaged_staged_and_one_file(call, repo: Path) -> None:
    (repo / "app.py").write_text("print('two')\n")
    (repo / "other.py").write_text("x = 1\n")
    git_cmd(repo, "add", "other.py")
    unstaged = await call("git_diff")
    assert "+print('two')" in unstaged.output and "other.py" not in unstaged.output
    staged = await call("git_diff", staged=True)
    assert "+x = 1" in staged.output and "app.py" not in staged.output
    one = await call("git_diff", file="app.py")
    assert one.ok and "-print('one')" in one.output
    none = await call("git_diff", staged=True, file="app.py")
    assert none.ok and "No staged changes in app.py" in none.output


async def test_diff_unknown_and_untracked_file(call, repo: Path) -> None:
    unknown = await call("git_diff", file="ghost.py")
    assert not unknown.ok and "unknown file: ghost.py" in unknown.output
    (repo / "fresh.py").write_text("")
    untracked = await call("git_diff", file="fresh.py")
    assert not untracked.ok and "untracked" in untracked.output


async def test_diff_without_changes(call, repo: Path) -> None:
    result = await call("git_diff")
    assert result.ok and result.output == "No unstaged changes"


async def test_commit_all_including_untracked(call, repo: Path) -> None:
    (repo / "app.py").write_text("print('two')\n")
    (repo / "new.txt").write_text("new\n")
    result = await call("git_commit", message="Second commit")
    assert result.ok and "Second commit" in result.output
    assert git_cmd(repo, "status", "--porcelain") == ""
    assert set(git_cmd(repo, "show", "--name-only", "--format=").split()) == {"app.py", "new.txt"}


async def test_commit_only_the_given_files(call, repo: Path) -> None:
    (repo / "app.py").write_text("print('two')\n")
    (repo / "a.txt").write_text("a\n")
    (repo / "b.txt").write_text("b\n")
    result = await call("git_commit", message="Only a", files=["a.txt", str(repo / "app.py")])
    assert result.ok
    assert set(git_cmd(repo, "show", "--name-only", "--format=").split()) == {"a.txt", "app.py"}
    assert "?? b.txt" in git_cmd(repo, "status", "--porcelain")


async def test_commit_nothing_and_unknown_file(call, repo: Path) -> None:
    nothing = await call("git_commit", message="Empty")
    assert not nothing.ok and "nothing to commit" in nothing.output
    unknown = await call("git_commit", message="Ghost", files=["ghost.txt"])
    assert not unknown.ok and "unknown file" in unknown.output and "ghost.txt" in unknown.output


async def test_commit_without_identity_says_how_to_set_it(call, repo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # No global/system config and no guessing from the host: git has no identity at all.
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(var, raising=False)
    git_cmd(repo, "config", "--unset", "user.name")
    git_cmd(repo, "config", "--unset", "user.email")
    git_cmd(repo, "config", "user.useConfigOnly", "true")
    (repo / "x.txt").write_text("x\n")
    result = await call("git_commit", message="Anonymous")
    assert not result.ok
    assert "no git identity" in result.output and "git config user.email" in result.output


async def test_log_oneline_and_full(call, repo: Path) -> None:
    for n in range(3):
        (repo / f"f{n}.txt").write_text(str(n))
        git_cmd(repo, "add", ".")
        git_cmd(repo, "commit", "-q", "-m", f"Change {n}")
    short = await call("git_log", num_commits=2)
    lines = short.output.splitlines()
    assert short.ok and len(lines) == 2
    assert lines[0].endswith("Test User: Change 2") and lines[1].endswith("Change 1")
    full = await call("git_log", num_commits=1, oneline=False)
    assert "Author: Test User <test@example.com>" in full.output
    assert "f2.txt" in full.output and "Change 1" not in full.output


async def test_log_of_an_empty_repository(call, work: Path) -> None:
    git_cmd(work, "init", "-q")
    result = await call("git_log")
    assert result.ok and result.output == "No commits yet"


async def test_diff_of_non_utf8_content_is_valid_text(call, repo: Path) -> None:
    (repo / "app.py").write_bytes("print('caf\xe9')\n".encode("latin-1"))
    result = await call("git_diff")
    assert result.ok and "caf\ufffd" in result.output
    json.dumps(result.output)  # surrogate escapes would make the log entry unencodable
