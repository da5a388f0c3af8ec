"""Kernel limits for the Voilà app (configured in the repository's ``voila.json``).

Each visitor of the app gets a kernel that imports NeMo and holds both models
(about 1.2 GB). :class:`CappedKernelManager` keeps at most ``max_kernels``
alive, pre-heated ones included: a visitor's kernel beyond that is refused
with an HTTP 503 the visitor can read, while a refill of Voilà's pre-heated
pool waits for a free slot (a refused refill would stay in the pool as a
failure and stop the pool from refilling). Idle culling spares kernels that
no visitor has opened: those in the pool are idle by design and must stay warm.
"""
import asyncio

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Float, Integer

PREHEAT = "VOILA_PREHEAT"  # "True" in the environment of a kernel Voilà starts for its pool


class CappedKernelManager(AsyncMappingKernelManager):
    """At most ``max_kernels`` kernels at once; idle culling spares kernels no visitor has opened."""

    max_kernels = Integer(8, config=True, help="Most kernels alive at once, pre-heated ones included (0: no limit).")
    slot_poll_s = Float(2.0, config=True, help="How often a pool refill checks for a free slot (seconds).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._visited: set[str] = set()
        self._starting: asyncio.Lock | None = None

    def _full(self) -> bool:
        return bool(self.max_kernels) and len(self.list_kernel_ids()) >= self.max_kernels

    async def start_kernel(self, *args, **kwargs) -> str:
        self._starting = self._starting or asyncio.Lock()
        while True:
            async with self._starting:  # one start at a time, so two cannot both take the last slot
                if not self._full():
                    return await super().start_kernel(*args, **kwargs)
            if kwargs.get("env", {}).get(PREHEAT) != "True":
                raise HTTPError(503, reason=f"The workbench is full ({self.max_kernels} sessions); "
                                            "try again in a few minutes")
            await asyncio.sleep(self.slot_poll_s)

    def notify_connect(self, kernel_id: str) -> None:
        self._visited.add(kernel_id)
        super().notify_connect(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        if kernel_id in self._visited:
            await super().cull_kernel_if_idle(kernel_id)
