"""The notebook workbench: ``Workbench().show()`` displays every panel, wired to a :class:`workbench.session.Session`."""
from .app import Workbench

__all__ = ["Workbench"]
