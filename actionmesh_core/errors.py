"""Errors that reach users. Each message says what went wrong and what to do about it.

The command line prints these without a traceback (exit code 2); ComfyUI nodes show them as
node errors. Anything else that escapes is a bug.
"""


class ActionMeshError(Exception):
    """Base class for every error meant for a user."""


class WeightsError(ActionMeshError):
    """Weights missing, incomplete, or not the expected checkpoint."""


class InputError(ActionMeshError):
    """A bad video, image sequence, mask, or option value."""


class MeshError(ActionMeshError):
    """A mesh that cannot be used (no faces, NaN vertices, unreadable file...)."""


class MissingExtraError(ActionMeshError):
    """An optional part (evaluation, training) used without the extra that installs its dependencies."""


class StageOutOfMemoryError(ActionMeshError):
    """The device ran out of memory inside a named stage."""


class OutputError(ActionMeshError):
    """An output that cannot be written: a file where a folder is expected, no permission, a full disk..."""
