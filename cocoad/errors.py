"""The one error type cocoad raises for bad input; the CLI prints it as a one-line message."""


class CocoadError(Exception):
    """Bad input or a failed check, with a message that names the file and the problem."""
