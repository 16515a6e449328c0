"""cocoad: build COCO-AD folds from the raw COCO 2017 annotations (no torch, no images).

It owns the fold rule and the meta-file format (`cocoad.meta`), which `baselines` and
`metrics` read; it imports neither (docs/architecture.md). Public API, imported on
first use so that `import cocoad.meta` stays light:

- `build_fold(coco_root, out=None, fold=0, ...)`, `build_folds(...)`: write a fold.
- `verify_fold(out, fold, num_folds)`: re-hash a built fold against its manifest.
- `read_meta(path)`, `MetaEntry`, `MetaError`: the meta-file reader.
- `CocoadError`: cocoad's one-line input error.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["CocoadError", "MetaEntry", "MetaError", "build_fold", "build_folds", "read_meta",
           "verify_fold"]

_HOMES = {"build_fold": "cocoad.build", "build_folds": "cocoad.build",
          "verify_fold": "cocoad.verify", "read_meta": "cocoad.meta", "MetaEntry": "cocoad.meta",
          "MetaError": "cocoad.meta", "CocoadError": "cocoad.errors"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'cocoad' has no attribute {name!r}")
