"""baselines: anomaly-detection models and their training (needs the `train` extra: torch).

The registry's functions are importable without torch (`from baselines import
list_baselines`); the models and the trainer import torch when first used.

- `register_baseline(name, build, recipe)`: add a method (also as a decorator, or from
  another package through the `adbench.baselines` entry-point group).
- `build_model(name, **options)`, `list_baselines()`, `get_baseline(name)`.
- `Recipe`: a method's training hyper-parameters.
"""

from baselines.registry import (
    Baseline,
    Recipe,
    UnknownBaselineError,
    build_model,
    get_baseline,
    list_baselines,
    register_baseline,
)

__all__ = ["Baseline", "Recipe", "UnknownBaselineError", "build_model", "get_baseline",
           "list_baselines", "register_baseline"]
