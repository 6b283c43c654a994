"""The loopback fake LLM in a child process, as a real endpoint would be.

In the benchmark's own process the fake LLM's Python threads would compete for the GIL
with whatever the benchmark does at the same time (reading a stream, timing a loop) and
bill their time to it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class LLMProcess:
    """``tests.fakellm.FakeLLM`` answering with ``reply`` ("module:function") in a child process."""

    def __init__(self, reply: str) -> None:
        self.module, self.function = reply.split(":")
        self.model = "fake/model"
        self.base_url = ""

    def __enter__(self) -> LLMProcess:
        code = (f"import sys; from {self.module} import {self.function} as reply; "
                "from tests.fakellm import FakeLLM; llm = FakeLLM(reply); "
                "print(llm.base_url, flush=True); sys.stdin.read()")
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.base_url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(timeout=10)
