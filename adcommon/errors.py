"""`InputError`: the one base class of the errors a user can cause.

Bad files, bad flags, missing weights, a diverging run: each package raises a subclass
with a one-line message naming the file (or flag, or annotation id) and the problem,
and the command-line entry points print exactly those as one line with a non-zero exit.
Anything else is a bug and keeps its traceback (docs/architecture.md, "Errors").
It derives from ValueError for compatibility with callers that caught ValueError.
"""


class InputError(ValueError):
    """Input the user can fix; the message is one line naming what and why."""
