"""The approval policy: ``allow``, ``ask`` or ``deny`` for each tool call (DESIGN.md §9).

A policy is a preset plus ordered rules::

    auto       every call is allowed (the default)
    ask        ask before the calls in RISKY; reads are allowed
    read-only  the calls in RISKY are denied without asking

A rule is ``{"tool": glob, "pattern": glob, "action": "allow"|"ask"|"deny"}``; ``tool``
matches the tool's name, ``pattern`` the call's subject (its command, path, URL or code;
see ``subject``). The first rule that matches decides; when none does, the preset does.

Decisions the contract leaves open, made here:

- Rule globs are ``fnmatch`` globs matched case-sensitively against the whole subject
  (``*git push*`` finds ``git push`` anywhere in a command); ``pattern`` ``*`` (or left
  out) matches every call of the tool, even one without a subject.
- A ``deny`` rule always wins (over a remembered allow, over the preset). A per-task
  preset stricter than the server's is a floor: a server ``allow`` rule cannot loosen it.
- ``remember`` allows later calls of the same tool that match the deciding rule's pattern,
  or, when no rule matched, with exactly the same subject.
- A server preset looser than ``approvals_max`` is tightened to it (``effective_preset``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import translate
from typing import Any, Literal

from ..config import ACTIONS, PRESETS, normalize_rules
from ..exceptions import ConfigError

Action = Literal["allow", "ask", "deny"]
#: The tools the ``ask`` preset asks about and ``read-only`` denies.
RISKY = frozenset({"run_command", "write_file", "delete_file", "git_commit", "python",
                   "edit_notebook"})
#: Argument names that hold a call's subject, in the order they are looked for.
SUBJECT_KEYS = ("command", "path", "url", "code", "file", "repo_path", "query", "message")
_PRESET_ACTION: dict[str, dict[bool, Action]] = {
    "auto": {True: "allow", False: "allow"},
    "ask": {True: "ask", False: "allow"},
    "read-only": {True: "deny", False: "allow"},
}


def strictness(preset: str) -> int:
    """0 for ``auto``, 1 for ``ask``, 2 for ``read-only``."""
    return PRESETS.index(preset)


def check_preset(value: Any, name: str) -> str:
    """``value`` if it is a preset, else ``ConfigError`` naming ``name``."""
    if value not in PRESETS:
        raise ConfigError(f"{name} must be one of {', '.join(PRESETS)}, not {value!r}")
    return str(value)


def effective_preset(preset: str, maximum: str) -> str:
    """The stricter of a configured preset and the loosest one allowed."""
    return preset if strictness(preset) >= strictness(maximum) else maximum


def subject(arguments: Mapping[str, Any] | None) -> str:
    """What a rule's pattern is matched against: the command, path, URL, code, ..."""
    for key in SUBJECT_KEYS:
        value = (arguments or {}).get(key)
        if isinstance(value, str):
            return value
    return ""


@dataclass(frozen=True)
class Rule:
    """One rule: a glob on the tool name, a glob on the subject, and an action."""

    tool: str
    pattern: str = "*"
    action: Action = "ask"

    def to_dict(self) -> dict[str, str]:
        """``{"tool", "pattern", "action"}``."""
        return {"tool": self.tool, "pattern": self.pattern, "action": self.action}


def parse_rules(data: Any, where: str = "approval_rules") -> tuple[Rule, ...]:
    """Rule dicts (or ``Rule`` objects) as ``Rule`` objects; ``ConfigError`` names ``where``."""
    if isinstance(data, tuple) and all(isinstance(r, Rule) for r in data):
        return data
    return tuple(Rule(**item) for item in normalize_rules(data, where))


@dataclass(frozen=True)
class Decision:
    """What the policy says about one call, and why."""

    action: Action
    reason: str
    #: (tool, pattern) that ``remember`` allows for the rest of the task.
    remember_key: tuple[str, str] = ("", "")


@dataclass
class _Compiled:
    rule: Rule
    tool: re.Pattern[str]
    test: Callable[[str], bool]  # does the pattern match a subject
    index: int


def _glob(text: str) -> re.Pattern[str]:
    return re.compile(translate(text), re.DOTALL)


@dataclass
class Policy:
    """Decides each call; ``remember`` allows more calls for the rest of one task."""

    preset: str = "auto"
    rules: tuple[Rule, ...] = ()
    #: A preset whose action is a minimum (a per-task preset stricter than the server's).
    floor: str | None = None
    remembered: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        check_preset(self.preset, "approvals")
        self._compiled = [
            _Compiled(rule, _glob(rule.tool), _test(rule.pattern), n)
            for n, rule in enumerate(self.rules, start=1)]
        self._remembered_globs: list[tuple[str, re.Pattern[str]]] = []
        #: per tool name: the rules that apply to it, in order
        self._by_tool: dict[str, list[_Compiled]] = {}

    def decide(self, tool: str, arguments: Mapping[str, Any] | None = None) -> Decision:
        """``allow``, ``ask`` or ``deny`` for a call of ``tool`` with ``arguments``."""
        what = subject(arguments)
        matched = self._match(tool, what)
        if matched is not None and matched.rule.action == "deny":
            return Decision("deny", _rule_reason(matched), (tool, matched.rule.pattern))
        if self._is_remembered(tool, what):
            return Decision("allow", "allowed earlier in this task (remember)")
        preset_action = _PRESET_ACTION[self.preset][tool in RISKY]
        if matched is not None:
            action, reason = matched.rule.action, _rule_reason(matched)
            key = (tool, matched.rule.pattern)
        else:
            action, reason = preset_action, f"preset {self.preset}"
            key = (tool, "=" + what)
        if self.floor is not None:
            least = _PRESET_ACTION[self.floor][tool in RISKY]
            if ACTIONS.index(least) > ACTIONS.index(action):
                action, reason = least, f"preset {self.floor} (this task's)"
        return Decision(action, reason, key)

    def allows_everything(self) -> bool:
        """True for the ``auto`` preset without rules: no call needs a look."""
        return self.preset == "auto" and not self.rules and self.floor is None

    def remember(self, key: tuple[str, str]) -> None:
        """Allow later calls that match ``key`` (from a ``Decision``) for this task."""
        if not key[0] or key in self.remembered:
            return
        self.remembered.add(key)
        tool, pattern = key
        if not pattern.startswith("="):
            self._remembered_globs.append((tool, _glob(pattern or "*")))

    def _match(self, tool: str, what: str) -> _Compiled | None:
        items = self._by_tool.get(tool)
        if items is None:  # the rules whose tool glob names this tool, once per tool
            items = self._by_tool[tool] = [i for i in self._compiled if i.tool.match(tool)]
        for item in items:
            if item.test(what):
                return item
        return None

    def _is_remembered(self, tool: str, what: str) -> bool:
        if not self.remembered:
            return False
        if (tool, "=" + what) in self.remembered:
            return True
        return any(t == tool and glob.match(what) for t, glob in self._remembered_globs)


def _test(pattern: str) -> Callable[[str], bool]:
    """A fast test for one glob: plain substring / prefix / suffix / equality checks for
    the common shapes (``*text*``, ``text*``, ``*text``, ``text``), a regex otherwise.

    A compiled regex per rule costs microseconds (``*x*`` scans lazily); 100 rules must
    stay under 0.1 ms per call.
    """
    if pattern in ("", "*"):
        return lambda _what: True
    inner = pattern.strip("*")
    if any(c in inner for c in "*?["):
        return _glob(pattern).match  # type: ignore[return-value]
    starts, ends = pattern.startswith("*"), pattern.endswith("*")
    if starts and ends:
        return lambda what: inner in what
    if ends:
        return lambda what: what.startswith(inner)
    if starts:
        return lambda what: what.endswith(inner)
    return inner.__eq__


def _rule_reason(item: _Compiled) -> str:
    rule = item.rule
    return f"rule {item.index}: {rule.tool} {rule.pattern!r} → {rule.action}"


def task_policy(server_preset: str, maximum: str, rules: Iterable[Rule],
                requested: str | None = None) -> Policy:
    """The policy of one task: the server's preset (tightened to ``maximum``) or the
    task's own ``requested`` one, which must not be looser than ``maximum``."""
    base = effective_preset(server_preset, maximum)
    if requested is None:
        return Policy(base, tuple(rules))
    check_preset(requested, "approvals")
    if strictness(requested) < strictness(maximum):
        raise ConfigError(f"approvals {requested!r} is looser than this server allows "
                          f"(approvals_max is {maximum!r})")
    floor = requested if strictness(requested) > strictness(base) else None
    return Policy(requested, tuple(rules), floor=floor)


def configured_preset(approvals: str | None, backend: str, opencode_permissive: bool) -> str:
    """The preset configuration sets: APPROVALS, else for OpenCode tasks what the
    OPENCODE_PERMISSIVE alias says (true = auto, false = read-only), else ``auto``."""
    if approvals is not None:
        return approvals
    if backend == "opencode" and not opencode_permissive:
        return "read-only"
    return "auto"
