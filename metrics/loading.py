"""Loading one class's maps and masks into (n, H, W) stacks, files read in threads."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm

from metrics.errors import ScoreInputError
from metrics.folders import ClassItems
from metrics.pairs import load_pair, multi_valued_message


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def load_class(items: ClassItems, workers: int, progress: bool, resize: str = "none",
               mask_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The class's maps (float32, or float64 if any map needs it) and uint8 0/1 masks,
    each image read by `metrics.pairs.load_pair`.

    Errors name the file: unreadable file, a map of another size than the class's first
    map, a mask of another size than its map (under resize="none"). One warning if the
    class's masks hold more than two distinct values and no threshold was given.
    """
    first = load_pair(items.maps[0], items.masks[0], resize, mask_threshold).map
    shape = first.shape
    maps = np.empty((len(items.maps), *shape), dtype=first.dtype)
    masks = np.zeros((len(items.maps), *shape), dtype=np.uint8)

    def load(i: int) -> tuple[np.ndarray | None, bool]:
        path = items.maps[i]
        amap, mask, multi_valued = load_pair(path, items.masks[i], resize, mask_threshold)
        if amap.shape != shape:
            raise ScoreInputError(f"{path}: map is {_shape_text(amap.shape)}, other maps "
                                  f"of class {items.name} are {_shape_text(shape)}")
        wider = amap if amap.dtype.itemsize > maps.dtype.itemsize else None
        if wider is None:
            maps[i] = amap
        masks[i] = mask
        return wider, multi_valued

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(tqdm(pool.map(load, range(len(items.maps))), total=len(items.maps),
                            desc=f"reading {items.name}", unit="map", disable=not progress,
                            leave=False))
    multi_valued = [path for (_, multi), path in zip(results, items.masks, strict=True)
                    if multi and path is not None]
    if multi_valued and mask_threshold is None:
        warnings.warn(multi_valued_message(items.name, multi_valued[0]), stacklevel=2)
    wider = [i for i, (array, _) in enumerate(results) if array is not None]
    if wider:
        maps = maps.astype(np.float64)
        for i in wider:
            maps[i] = results[i][0]
    return maps, masks
