"""The notebook workbench: ``Workbench().show()`` displays every panel, wired to a :class:`Session`."""
from .app import Workbench
from .session import Session

__all__ = ["Session", "Workbench"]
