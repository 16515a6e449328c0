"""The error and warning types of the metrics package."""

from adcommon.errors import InputError


class ScoreInputError(InputError):
    """Input that cannot be scored (NaN map, size mismatch, unreadable file, ...).

    The message is one line naming the file and the problem; the CLI prints it as is.
    """


class NonFiniteMapError(ScoreInputError):
    """A map holds NaN or inf; `index` is the image's position in its batch."""

    def __init__(self, index: int) -> None:
        super().__init__(f"map {index} holds NaN or infinite values")
        self.index = index


class UndefinedMetricWarning(UserWarning):
    """Some metric of a class is undefined (null): no anomalous or no normal image, or a
    compat definition whose own arithmetic fails on the class."""
