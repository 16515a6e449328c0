"""The one error type of the metrics package: bad input, reported as a one-line message."""

from adcommon.errors import InputError


class ScoreInputError(InputError):
    """Input that cannot be scored (NaN map, size mismatch, unreadable file, ...).

    The message is one line naming the file and the problem; the CLI prints it as is.
    """

