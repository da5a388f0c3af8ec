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
