"""The one error type cocoad raises for bad input; the CLI prints it as a one-line message."""

from adcommon.errors import InputError


class CocoadError(InputError):
    """Bad input or a failed check, with a message that names the file and the problem."""

