"""The server's side of the notebook tools: kernels from its kernel manager.

``UserKernel`` attaches to a kernel the user started (``kernel_id`` of ``POST /api/task``):
never shut down, never restarted by us. ``TaskKernel`` is a kernel of the task's own,
started through the server's kernel manager at the task's first ``python`` call (in the
task's working dir) and shut down at the task's end. Both are ``access.subshell`` sources:
the code runs in a subshell of the kernel.
"""

from __future__ import annotations

from typing import Any

from jupyter_core.utils import ensure_async

from ..access.subshell import KernelHandle, client_for
from ..exceptions import KernelError


async def kernel_generation(manager: Any, kernel_id: str) -> object | None:
    """A token equal while the kernel ``kernel_id`` is the same live process, else None."""
    try:
        kernel = manager.get_kernel(kernel_id)
    except KeyError:
        return None
    if not await ensure_async(kernel.is_alive()):
        return None
    provisioner = kernel.provisioner
    return id(provisioner), getattr(provisioner, "pid", None)


class UserKernel:
    """A kernel of this server that the task is attached to."""

    def __init__(self, manager: Any, kernel_id: str) -> None:
        self.manager, self.kernel_id = manager, kernel_id

    async def connect(self) -> KernelHandle:
        """A client on the user's kernel."""
        try:
            kernel = self.manager.get_kernel(self.kernel_id)
        except KeyError:
            raise KernelError(f"the kernel {self.kernel_id} is gone (shut down)") from None
        client = await client_for(kernel.get_connection_info())
        return KernelHandle(client, lambda: kernel_generation(self.manager, self.kernel_id))

    async def release(self) -> None:
        """The user's kernel stays as it is."""


class TaskKernel:
    """A kernel started for the task through the server's kernel manager."""

    def __init__(self, manager: Any, cwd: str, kernel_name: str | None = None) -> None:
        self.manager, self.cwd = manager, cwd
        self.kernel_name = kernel_name or getattr(manager, "default_kernel_name", "python3")
        self.kernel_id: str | None = None

    async def connect(self) -> KernelHandle:
        """Start the kernel if needed (the server restarts one that died) and connect."""
        if self.kernel_id is None or self.kernel_id not in self.manager:
            try:
                self.kernel_id = await ensure_async(self.manager.start_kernel(
                    kernel_name=self.kernel_name, cwd=self.cwd))
            except (OSError, RuntimeError, KeyError) as exc:
                raise KernelError(f"cannot start a {self.kernel_name} kernel: {exc}") from None
        kernel_id = self.kernel_id
        assert kernel_id is not None
        kernel = self.manager.get_kernel(kernel_id)
        # Its main shell is idle (only subshells run the agent's code): waiting for it to
        # answer once is safe, and needed after a start or restart (see ``client_for``).
        client = await client_for(kernel.get_connection_info(), fresh=True)
        return KernelHandle(client, lambda: kernel_generation(self.manager, kernel_id))

    async def release(self) -> None:
        """Shut the task's kernel down (with its process tree)."""
        kernel_id, self.kernel_id = self.kernel_id, None
        if kernel_id is not None and kernel_id in self.manager:
            await ensure_async(self.manager.shutdown_kernel(kernel_id, now=True))
