"""Secret masking: the exact value of a secret and its base64 and hex forms become ``MASK``.

Every tool result passes through ``redact_text`` before it reaches the model, the
log or a stream (``tools.base.ToolRegistry`` and ``tasks.live``). Encoded forms are
found wherever they sit in a longer encoded text: base64 at each of its three byte
alignments (standard and URL-safe alphabets, line breaks allowed, as ``base64``
wraps at 76 columns) and hex in either case (bytes may be separated by a space, a
colon or a line break, as ``xxd`` and ``xxd -p`` print them).

The process-wide secrets (the Jupyter token, the task API token) are registered
by the server with ``register_secret``; the LLM key comes from the task's settings.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable

#: What stands in for a secret.
MASK = "[redacted]"
#: Shorter values are not treated as secrets: masking them would garble ordinary text
#: (a local endpoint's placeholder key such as "x").
MIN_SECRET_LENGTH = 8
_LINE_BREAK = r"(?:\r?\n)?"
_HEX_GAP = r"(?:[ :]|\r?\n)?"
_REGISTERED: dict[str, int] = {}


def secret_values(values: Iterable[str | None]) -> tuple[str, ...]:
    """The values worth masking, longest first (so no secret is cut by a shorter one)."""
    kept = {v for v in values if v and len(v) >= MIN_SECRET_LENGTH}
    return tuple(sorted(kept, key=len, reverse=True))


def register_secret(value: str | None) -> None:
    """Mask ``value`` in every tool result of this process from now on."""
    if value:
        _REGISTERED[value] = _REGISTERED.get(value, 0) + 1


def unregister_secret(value: str | None) -> None:
    """Undo one ``register_secret(value)``."""
    if value and value in _REGISTERED:
        _REGISTERED[value] -= 1
        if _REGISTERED[value] <= 0:
            del _REGISTERED[value]


def registered_secrets() -> tuple[str, ...]:
    """The secrets registered in this process."""
    return tuple(_REGISTERED)


def redact_text(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """``text`` with every secret (and its base64 / hex forms) replaced by ``MASK``."""
    if not text or not secrets:
        return text
    flat = text.replace("\r", "").replace("\n", "")
    hex_flat = re.sub(r"[ :]", "", flat).lower()
    forms = [_forms(secret) for secret in secrets]
    if not any(s in flat for f in forms for s in f.plain) and \
            not any(f.hex in hex_flat for f in forms):
        return text  # the common case: no regex pass over the whole text
    return _pattern(secrets).sub(MASK, text)


class _Forms:
    """The searchable forms of one secret."""

    def __init__(self, secret: str) -> None:
        raw = secret.encode()
        self.exact = secret
        self.base64 = _base64_cores(raw)
        self.hex = raw.hex()
        self.plain = (secret, *self.base64)

    def regex(self) -> str:
        """One alternation matching any form."""
        parts = [re.escape(self.exact)]
        parts += [_LINE_BREAK.join(map(re.escape, core)) for core in self.base64]
        pairs = [self.hex[i:i + 2] for i in range(0, len(self.hex), 2)]
        parts.append("(?i:" + _HEX_GAP.join(pairs) + ")")
        return "|".join(parts)


@functools.lru_cache(maxsize=256)
def _forms(secret: str) -> _Forms:
    return _Forms(secret)


@functools.lru_cache(maxsize=32)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(_forms(secret).regex() for secret in secrets))


def _base64_cores(raw: bytes) -> tuple[str, ...]:
    """The base64 characters that depend on ``raw`` alone, at each byte alignment."""
    cores: list[str] = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = -(-8 * offset // 6)  # the first character with no bit of the prefix
        end = 8 * (offset + len(raw)) // 6  # past the last one with no bit of what follows
        core = encoded[start:end]
        for variant in (core, core.replace("+", "-").replace("/", "_")):
            if variant not in cores:
                cores.append(variant)
    return tuple(cores)
