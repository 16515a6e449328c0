"""baselines: anomaly-detection models and their training (needs the `train` extra: torch).

`from baselines import build_model` gives the registry's factory. The attribute is
resolved lazily so that importing `baselines.cli` (for `adbench --help`) needs no torch.
"""

from __future__ import annotations

from typing import Any

_REGISTRY_NAMES = {"build_model", "get_baseline", "list_baselines"}


def __getattr__(name: str) -> Any:
    if name in _REGISTRY_NAMES:
        from baselines import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'baselines' has no attribute {name!r}")
