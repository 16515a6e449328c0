"""Feeding one class's files to a Scorer: threads read (map, mask) pairs a few images
ahead (`metrics.pairs.load_pair`: reading, mask rule, evaluation size), the scorer takes
them in order, so each file is read once and only a window of images is in memory.
Errors name the file."""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from metrics.errors import NonFiniteMapError, ScoreInputError
from metrics.folders import ClassItems
from metrics.pairs import Pair, load_pair, multi_valued_message
from metrics.scorer import Scorer

PairLoader = Callable[[Path, "Path | None", str, "float | None"], Pair]


def feed_class(scorer: Scorer, items: ClassItems, image_scores: np.ndarray | None,
               workers: int, progress: bool, resize: str = "none",
               mask_threshold: float | None = None, load: PairLoader | None = None) -> None:
    """Read every (map, mask) of a class with `load` (default `load_pair`) on `workers`
    threads, at most 2 x workers images ahead, into `scorer`. One warning if the class's
    masks hold more than two distinct values and no threshold was given."""
    load = load or load_pair
    window = 2 * workers
    pending: deque[tuple[int, Future]] = deque()
    multi_valued: list[Path] = []
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
            total=len(items.maps), desc=f"reading {items.name}", unit="map",
            disable=not progress, leave=False) as bar:
        try:
            submitted = 0
            while submitted < len(items.maps) or pending:
                while submitted < len(items.maps) and len(pending) < window:
                    future = pool.submit(load, items.maps[submitted], items.masks[submitted],
                                         resize, mask_threshold)
                    pending.append((submitted, future))
                    submitted += 1
                i, future = pending.popleft()
                pair = future.result()
                score = None if image_scores is None else float(image_scores[i])
                try:
                    scorer.add_image(pair.map, pair.mask, score)
                except NonFiniteMapError:
                    raise ScoreInputError(f"{items.maps[i]}: map holds NaN or infinite "
                                          "values") from None
                except ScoreInputError as error:
                    raise ScoreInputError(f"{items.maps[i]}: {error}") from None
                mask_path = items.masks[i]
                if pair.multi_valued and mask_path is not None:
                    multi_valued.append(mask_path)
                bar.update()
        finally:
            for _, future in pending:
                future.cancel()
    if multi_valued and mask_threshold is None:
        warnings.warn(multi_valued_message(items.name, multi_valued[0]), stacklevel=2)
