"""Masking of secrets in entries and final texts."""

from __future__ import annotations

from open_agent_jupyter.tasks.redact import MASK, redact_entry, redact_text, secret_values


def test_short_values_are_not_secrets_and_longest_go_first() -> None:
    assert secret_values(["x", None, "", "abcdefgh", "abcdefgh-longer"]) == (
        "abcdefgh-longer", "abcdefgh")


def test_entries_are_masked_in_content_and_arguments() -> None:
    secrets = secret_values(["sk-or-secret-1"])
    entry = {"seq": 1, "content": "key sk-or-secret-1 here",
             "arguments": {"command": "echo sk-or-secret-1", "n": 2}}
    assert redact_entry(entry, secrets) == {
        "seq": 1, "content": f"key {MASK} here", "arguments": {"command": f"echo {MASK}", "n": 2}}
    assert redact_text(None, secrets) is None
    assert redact_entry({"content": "plain"}, ()) == {"content": "plain"}
