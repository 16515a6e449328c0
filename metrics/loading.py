"""Loading one class's maps and masks into (n, H, W) stacks, files read in threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from tqdm import tqdm

from metrics.errors import ScoreInputError
from metrics.folders import ClassItems
from metrics.readers import read_map, read_mask, read_npy_into
from metrics.score import as_map_stack


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def load_class(items: ClassItems, workers: int, progress: bool,
               ) -> tuple[np.ndarray, np.ndarray]:
    """The class's maps (float32, or float64 if any map needs it) and uint8 0/1 masks.

    Errors name the file: unreadable file, a map of another size than the class's first
    map, a mask of another size than its map.
    """
    first = as_map_stack([read_map(items.maps[0])])[0]
    shape = first.shape
    maps = np.empty((len(items.maps), *shape), dtype=first.dtype)
    masks = np.zeros((len(items.maps), *shape), dtype=np.uint8)

    def load(i: int) -> np.ndarray | None:
        path = items.maps[i]
        wider = None
        if maps.dtype != np.float32 or not read_npy_into(path, maps[i]):
            array = read_map(path)
            if array.shape != shape:
                raise ScoreInputError(f"{path}: map is {_shape_text(array.shape)}, other maps "
                                      f"of class {items.name} are {_shape_text(shape)}")
            if as_map_stack([array]).dtype != maps.dtype:
                wider = array
            else:
                maps[i] = array
        mask_path = items.masks[i]
        if mask_path is not None:
            mask = read_mask(mask_path)
            if mask.shape != shape:
                raise ScoreInputError(f"{mask_path}: mask is {_shape_text(mask.shape)} but its "
                                      f"map {path} is {_shape_text(shape)}")
            masks[i] = mask
        return wider

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(tqdm(pool.map(load, range(len(items.maps))), total=len(items.maps),
                            desc=f"reading {items.name}", unit="map", disable=not progress,
                            leave=False))
    wider = [i for i, array in enumerate(results) if array is not None]
    if wider:
        maps = maps.astype(np.float64)
        for i in wider:
            maps[i] = results[i]
    return maps, masks
