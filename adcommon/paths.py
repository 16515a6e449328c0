"""Default locations shared by several commands."""

from __future__ import annotations

import os
from pathlib import Path

COCO_ROOT_ENV = "COCO_ROOT"
DEFAULT_COCO_ROOT = Path("data/coco")


def default_coco_root() -> Path:
    """The COCO 2017 root: `$COCO_ROOT`, else `data/coco`."""
    value = os.environ.get(COCO_ROOT_ENV, "").strip()
    return Path(value) if value else DEFAULT_COCO_ROOT
