"""The open baseline registry: a name, a factory and a training recipe per method.

Registering a baseline (see docs/baselines.md, "Adding a baseline"):

    @register_baseline("mymodel", recipe=Recipe(lr=1e-3, ref_batch=8, batch_size=8,
                                                betas=(0.9, 0.999)))
    def build(image_size: int = 256, weights: str = "default", **options) -> AnomalyModel:
        ...

or `register_baseline("mymodel", "my_package.module:build", recipe)` to import the factory
only when the model is built (the built-in baselines do this, so listing them needs no
torch). A package outside adbench makes its baselines known through the entry-point group
`adbench.baselines`: each entry point names a module (or an object in one) whose import
registers them; `adbench run-baseline NAME` then trains them like the built-in ones.

`build_model(name, **options)` passes every option through to the factory (`image_size`,
`weights`, `backbone`, and whatever else the model takes).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal

from adcommon.errors import InputError

if TYPE_CHECKING:
    from baselines.base import AnomalyModel

ENTRY_POINT_GROUP = "adbench.baselines"

Factory = Callable[..., "AnomalyModel"]


@dataclass(frozen=True)
class Recipe:
    """Training hyper-parameters (docs/baselines.md, "Shared setting").

    lr is given at `ref_batch` and scales linearly with the batch size. `optimizer`:
    "adam" (no weight decay reaches it, as in ADer's Adam recipes) or "adamw" (decoupled
    decay on ADer's decay group: tensors of 2+ dimensions not named `*.bias`).
    `schedule`: "step" (x0.1 from iteration int(decay_at * total) on) or "constant".
    `update_every` k > 1: the optimiser steps on iterations 1, 1 + k, ...; the batches in
    between only refresh the model's batch statistics (`AnomalyModel.refresh`).
    """

    lr: float
    ref_batch: int
    batch_size: int
    betas: tuple[float, float]
    epochs: int = 100
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = 0.0
    eps: float = 1e-8
    clip_grad_norm: float = 5.0
    schedule: Literal["step", "constant"] = "step"
    decay_at: float = 0.8
    update_every: int = 1

    def lr_for(self, batch_size: int) -> float:
        """The learning rate scaled linearly with the batch size: lr * B / ref_batch."""
        return self.lr * batch_size / self.ref_batch


@dataclass(frozen=True)
class Baseline:
    """A registered baseline: its factory (a callable or a lazy "module:function" path),
    its recipe, the options its factory gets unless the caller overrides them, and a
    one-line description for `--help`."""

    name: str
    build: Factory | str
    recipe: Recipe
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def backbone(self) -> str | None:
        """The default encoder named in `defaults`, if any."""
        return self.defaults.get("backbone")

    def factory(self) -> Factory:
        """The factory, imported on first use when registered by its dotted path."""
        if callable(self.build):
            return self.build
        module_name, _, function_name = self.build.partition(":")
        return getattr(importlib.import_module(module_name), function_name)


_REGISTRY: dict[str, Baseline] = {}
_plugins_loaded = False


class UnknownBaselineError(InputError):
    """No baseline of that name is registered; the message lists the known ones."""


def register_baseline(name: str, build: Factory | str | None = None, recipe: Recipe | None = None,
                      *, defaults: Mapping[str, Any] | None = None, description: str = "",
                      replace: bool = False) -> Any:
    """Register baseline `name`; usable directly or as a decorator of its factory.

    `build` is a callable returning an `AnomalyModel` or a "module:function" path imported
    when the model is first built. Registering a taken name is an error unless `replace`.
    Returns the factory (decorator use) or the registry entry.
    """
    if recipe is None:
        raise TypeError(f"register_baseline({name!r}): a Recipe is required")
    if build is None:
        def decorator(function: Factory) -> Factory:
            register_baseline(name, function, recipe, defaults=defaults,
                              description=description, replace=replace)
            return function
        return decorator
    if name in _REGISTRY and not replace:
        raise ValueError(f"baseline {name!r} is already registered")
    entry = Baseline(name, build, recipe, dict(defaults or {}), description)
    _REGISTRY[name] = entry
    return entry


def _load_plugins() -> None:
    """Import every `adbench.baselines` entry point once (each registers its baselines)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        point.load()


def list_baselines() -> list[str]:
    """Names of every registered baseline (built-in and plugins), sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


def get_baseline(name: str) -> Baseline:
    """The registry entry of `name`; UnknownBaselineError listing the known names."""
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownBaselineError(f"unknown baseline {name!r} (known: {known})") from None


def build_model(name: str, /, **options: Any) -> AnomalyModel:
    """Build baseline `name` with the registered defaults overridden by `options`.

    Common options: image_size (S), weights ("default": the pretrained encoder ADer used,
    downloaded once and hash-checked; "none": random; or a local file), backbone (another
    encoder, e.g. "resnet18" for small CPU runs). Options set to None are left out.
    """
    entry = get_baseline(name)
    given = {key: value for key, value in options.items() if value is not None}
    return entry.factory()(**{**entry.defaults, **given})


def _register_builtin() -> None:
    register_baseline("ae", "baselines.models.ae:build",
                      Recipe(1e-3, 32, 32, (0.9, 0.999)),
                      description="AE: plain convolutional autoencoder on pixels (ours)")
    register_baseline("rd", "baselines.models.rd:build",
                      Recipe(5e-3, 16, 16, (0.5, 0.999)),
                      defaults={"backbone": "wide_resnet50_2"},
                      description="RD: reverse distillation (RD4AD), WRN50-2 (ADer's config)")
    register_baseline("rdpp", "baselines.models.rdpp:build",
                      Recipe(1e-3, 16, 16, (0.5, 0.999), schedule="constant", update_every=2),
                      defaults={"backbone": "wide_resnet50_2"},
                      description="RD++: RD with projection layers and noise patches, WRN50-2 "
                                  "(ADer's config)")
    register_baseline("invad", "baselines.models.invad:build",
                      Recipe(1e-3, 8, 32, (0.0, 0.99)),
                      defaults={"backbone": "wide_resnet50_2"},
                      description="InvAD: feature inversion, WRN50-2 (ADer's config)")
    register_baseline("invad-lite", "baselines.models.invad:build_lite",
                      Recipe(1e-3, 8, 32, (0.0, 0.99)),
                      defaults={"backbone": "resnet34"},
                      description="InvAD-lite: feature inversion, ResNet34 (ADer's config)")
    register_baseline("vitad", "baselines.models.vitad:build",
                      Recipe(1e-4, 8, 8, (0.9, 0.999), optimizer="adamw", weight_decay=1e-4),
                      defaults={"backbone": "vit_small_patch16_224.dino"},
                      description="ViTAD: DINO ViT-S/16 teacher, ViT student (ADer's config)")
    register_baseline("uniad", "baselines.models.uniad:build",
                      Recipe(1e-4, 8, 8, (0.9, 0.999), optimizer="adamw", weight_decay=1e-4),
                      defaults={"backbone": "tf_efficientnet_b4.aa_in1k"},
                      description="UniAD: TF-EfficientNet-B4, neighbourhood-masked "
                                  "transformer (ADer's config)")
    register_baseline("mambaad", "baselines.models.mambaad:build",
                      Recipe(5e-3, 16, 16, (0.9, 0.999), optimizer="adamw", weight_decay=1e-4),
                      defaults={"backbone": "resnet34"},
                      description="MambaAD: Hilbert-scan state-space decoder, ResNet34 "
                                  "(ADer's config)")


_register_builtin()
