"""Capturing one thread's output in a process whose other threads keep printing.

``install_capture(shell)`` puts, once, a dispatcher in front of ``sys.stdout``,
``sys.stderr`` and the shell's display publisher: a thread with an active ``Capture``
writes into it, every other thread writes where it always did. Outputs are kept as
nbformat-4 output dicts, consecutive stream text merged.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

_active: dict[int, Capture] = {}
_install_lock = threading.Lock()


class Capture:
    """The outputs of one run; ``emit(name, text)`` also gets stream text as it comes."""

    def __init__(self, emit: Callable[[str, str], None] | None = None) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.emit = emit
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def active(self) -> Iterator[Capture]:
        """Capture this thread's output inside the block."""
        ident = threading.get_ident()
        _active[ident] = self
        try:
            yield self
        finally:
            _active.pop(ident, None)

    def stream(self, name: str, text: str) -> None:
        """Add stream text (merged with the previous output of the same stream)."""
        if not text:
            return
        with self._lock:
            last = self.outputs[-1] if self.outputs else None
            if last and last["output_type"] == "stream" and last["name"] == name:
                last["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": name, "text": text})
        if self.emit is not None:
            self.emit(name, text)

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        """Add a ``display_data`` output."""
        with self._lock:
            self.outputs.append({"output_type": "display_data", "data": dict(data),
                                 "metadata": dict(metadata or {})})

    def finish(self) -> list[dict[str, Any]]:
        """The outputs so far."""
        with self._lock:
            return list(self.outputs)


class _Proxy:
    """Attributes other than its own are the original object's.

    Its own are ``_``-prefixed ones and the methods it defines: IPython wraps
    ``sys.stdout.write`` (``InteractiveShell._tee``), and that wrapper must wrap ours.
    """

    _original: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or hasattr(type(self), name):
            object.__setattr__(self, name, value)
        else:
            setattr(self._original, name, value)


class _Stream(_Proxy):
    """Stands in for sys.stdout / sys.stderr: a capturing thread's writes go to its Capture."""

    def __init__(self, name: str, original: Any) -> None:
        self._name, self._original = name, original

    def write(self, text: str) -> int:
        capture = _active.get(threading.get_ident())
        if capture is None:
            return self._original.write(text)
        capture.stream(self._name, text)
        return len(text)

    def flush(self) -> None:
        if threading.get_ident() not in _active:
            self._original.flush()


class _Publisher(_Proxy):
    """Stands in for the shell's display publisher in the same way."""

    def __init__(self, original: Any) -> None:
        self._original = original

    def publish(self, data: dict[str, Any], metadata: dict[str, Any] | None = None,
                *args: Any, **kwargs: Any) -> Any:
        capture = _active.get(threading.get_ident())
        if capture is None:
            return self._original.publish(data, metadata, *args, **kwargs)
        capture.display(data, metadata)
        return None

    def clear_output(self, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() in _active:
            return None
        return self._original.clear_output(*args, **kwargs)


def install_capture(shell: Any) -> None:
    """Put the dispatchers in place (once; again if something replaced them)."""
    with _install_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, _Stream):
                setattr(sys, name, _Stream(name, current))
        publisher = getattr(shell, "display_pub", None)
        if publisher is not None and not isinstance(publisher, _Publisher):
            shell.display_pub = _Publisher(publisher)
