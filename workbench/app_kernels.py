"""Kernel limits for the Voilà app (configured in the repository's ``voila.json``).

Each visitor of the app gets a kernel that imports NeMo and holds both models
(about 1 GB). :class:`CappedKernelManager` refuses a kernel beyond
``max_kernels`` (pre-heated ones included) with an HTTP 503 the visitor can
read, and culls only kernels that a visitor has connected to: kernels waiting
in Voilà's pre-heated pool are idle by design and must stay warm.
"""
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Integer


class CappedKernelManager(AsyncMappingKernelManager):
    """At most ``max_kernels`` kernels at once; idle culling spares kernels no visitor has opened."""

    max_kernels = Integer(6, config=True, help="Most kernels alive at once (0: no limit).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._visited: set[str] = set()

    async def start_kernel(self, *args, **kwargs) -> str:
        if self.max_kernels and len(self.list_kernel_ids()) >= self.max_kernels:
            raise HTTPError(503, reason=f"The workbench is full ({self.max_kernels} sessions); "
                                        "try again in a few minutes")
        return await super().start_kernel(*args, **kwargs)

    def notify_connect(self, kernel_id: str) -> None:
        self._visited.add(kernel_id)
        super().notify_connect(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        if kernel_id in self._visited:
            await super().cull_kernel_if_idle(kernel_id)
