"""One background thread that runs the workbench's jobs in order, so widgets stay responsive."""
import logging
import queue
import threading
import time
from collections.abc import Callable

from ..errors import describe
from ..threads import use_share

log = logging.getLogger(__name__)

# Threads of the workbench that may run models at once: this worker and the sweep panel's run.
MODEL_THREADS = 2


class Worker:
    """Runs submitted jobs one at a time on a daemon thread; a failing job reports to its ``on_error``."""

    def __init__(self, name: str = "workbench"):
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None], on_error: Callable[[str], None]) -> None:
        self._jobs.put((job, on_error))

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until every submitted job has finished (for tests and scripts); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _run(self) -> None:
        use_share(MODEL_THREADS)
        while True:
            job, on_error = self._jobs.get()
            try:
                job()
            except Exception as error:  # the kernel must survive anything a job meets
                log.debug("job failed", exc_info=True)
                try:
                    on_error(describe(error))
                except Exception:
                    log.exception("could not report a failed job")
            finally:
                self._jobs.task_done()
