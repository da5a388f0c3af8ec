"""Errors a user can act on. Each carries one line that says what is wrong and what to do."""


class WorkbenchError(Exception):
    """Base class: the message is meant to be shown as is, without a traceback."""


class AudioError(WorkbenchError):
    """Audio that cannot be read or holds no usable samples."""


class CheckpointError(WorkbenchError):
    """A model file that is missing, corrupt, or of the wrong kind."""


class DeviceError(WorkbenchError):
    """An unknown or unavailable compute device."""


class MicrophoneUnavailable(WorkbenchError):
    """No audio input device can be opened."""


def describe(error: BaseException) -> str:
    """One line for the user: the message of a WorkbenchError, type and message otherwise."""
    if isinstance(error, WorkbenchError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is an allocation failure: ``MemoryError`` or torch's allocator ``RuntimeError``."""
    text = str(error)
    return isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and "alloc" in text and "memory" in text)


def printable(text: str) -> str:
    """``text`` without control characters (terminal escape codes in a model's labels, say)."""
    return "".join(ch for ch in str(text) if ch.isprintable() or ch == " ")
