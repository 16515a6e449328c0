"""The names of the mask rasterisers `cocoad build --masks` offers (docs/cocoad.md).

Kept apart from `cocoad.masks`, which implements them, so that the CLI can list them
without importing numpy and pycocotools.
"""

RASTERISERS = ("pycocotools", "ader")
DEFAULT_RASTERISER = "pycocotools"
