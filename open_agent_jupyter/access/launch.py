"""A kernel of the task's own, started with jupyter_client (``open-agent run``).

``LaunchedKernel`` is a ``KernelSource``: the kernel starts at the first ``connect`` (the
task's first ``python`` call), in the task's working dir, and is shut down by ``release``
(the task's end). A kernel that died is started again at the next call.
"""

from __future__ import annotations

import os

from jupyter_client.manager import AsyncKernelManager

from ..exceptions import KernelError
from .subshell import KernelHandle, client_for


class LaunchedKernel:
    """``KernelSource`` that starts a ``python3`` kernel when first needed."""

    def __init__(self, cwd: str, kernel_name: str = "python3") -> None:
        self.cwd = os.path.expanduser(cwd)
        self.kernel_name = kernel_name
        self.manager: AsyncKernelManager | None = None

    async def connect(self) -> KernelHandle:
        """Start the kernel (again, if it died) and connect a client."""
        if self.manager is None or not await self.manager.is_alive():
            await self.release()
            manager = AsyncKernelManager(kernel_name=self.kernel_name)
            try:
                await manager.start_kernel(cwd=self.cwd)
            except (OSError, RuntimeError) as exc:
                raise KernelError(f"cannot start a {self.kernel_name} kernel: {exc}") from None
            self.manager = manager
        manager = self.manager

        async def generation() -> object | None:
            if not await manager.is_alive():
                return None
            return id(manager.provisioner), getattr(manager.provisioner, "pid", None)

        return KernelHandle(await client_for(manager.get_connection_info(), fresh=True), generation)

    async def release(self) -> None:
        """Shut the kernel down."""
        manager, self.manager = self.manager, None
        if manager is not None:
            await manager.shutdown_kernel(now=True)
