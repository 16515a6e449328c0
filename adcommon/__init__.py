"""adcommon: the low-level helpers every adbench package may import (and nothing else).

The one leaf of the import graph: it imports no other package of the project, so
`cocoad`, `baselines`, `metrics`, `leaderboard` and `adbench` can all depend on it
without depending on each other (see docs/architecture.md).

- `adcommon.atomic`: crash-safe file writing (temporary sibling, then rename).
- `adcommon.checksums`: sha256 of bytes and files.
- `adcommon.errors`: `InputError`, the base class of every error a user can cause.
- `adcommon.paths`: default locations shared by several commands (the COCO root).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
