"""The masking of a secret's exact value and its base64 and hex forms, as real tools print them."""

from __future__ import annotations

import base64
import subprocess

import pytest

from open_agent_jupyter.redact import (
    MASK,
    redact_text,
    register_secret,
    registered_secrets,
    secret_values,
    unregister_secret,
)

KEY = "sk-or-v1-" + "0123456789abcdef" * 4
SECRETS = secret_values([KEY])


def _shell(command: str) -> str:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                          check=True, env={"PATH": "/usr/bin:/bin", "K": KEY}).stdout


@pytest.mark.parametrize("command", [
    'printf %s "$K" | base64',                      # wrapped at 76 columns
    'printf %s "$K" | base64 -w0',
    'echo "OPENROUTER_API_KEY=$K" | base64',        # inside a longer text, any alignment
    'printf "x%s" "$K" | base64 -w0',
    'printf "xy%s" "$K" | base64 -w0',
    'printf "xy%s" "$K" | base64 -w0 | tr "+/" "-_"',
    'printf %s "$K" | xxd -p',                      # hex, wrapped at 60 columns
    'printf %s "$K" | xxd -p | tr a-f A-F',
    'printf %s "$K" | od -An -tx1 -w100',            # bytes separated by spaces
])
def test_encoded_forms_are_masked(command: str) -> None:
    output = _shell(command)
    masked = redact_text(output, SECRETS)
    assert MASK in masked
    flat = masked.replace("\n", "").replace(" ", "").lower()
    assert KEY.encode().hex() not in flat
    assert base64.b64encode(KEY.encode()).decode()[4:-4] not in masked.replace("\n", "")


def test_text_without_a_secret_is_unchanged() -> None:
    text = "hello " * 1000 + base64.b64encode(b"another value entirely").decode()
    assert redact_text(text, SECRETS) is text
    assert redact_text(f"key={KEY}.", SECRETS) == f"key={MASK}."


def test_registered_secrets_are_counted() -> None:
    register_secret("token-one-12345")
    register_secret("token-one-12345")
    unregister_secret("token-one-12345")
    assert "token-one-12345" in registered_secrets()
    unregister_secret("token-one-12345")
    assert "token-one-12345" not in registered_secrets()
