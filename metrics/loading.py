"""Reading a class's files a few images ahead, and feeding them to Scorers.

`read_ahead` runs a loader on a thread pool, a window of images ahead of its consumer,
and yields the results in order: each file is read once and only the window is in
memory. `feed_class` feeds each (map, mask) pair (`metrics.pairs.load_pair`: reading,
mask rule, evaluation size) to one Scorer per definition, so scoring several definitions
reads the files once. Errors name the file.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from typing import TypeVar

import numpy as np
from tqdm import tqdm

from metrics.errors import NonFiniteMapError, ScoreInputError
from metrics.folders import ClassItems
from metrics.pairs import load_pair, multi_valued_message
from metrics.scorer import Scorer

T = TypeVar("T")


def read_ahead(load: Callable[[int], T], count: int, workers: int, progress: bool,
               label: str) -> Generator[tuple[int, T], None, None]:
    """(i, load(i)) for i < count, in order; `load` runs on `workers` threads at most
    2 x workers items ahead (a tqdm bar named `label` if `progress`). Items not yet
    taken are cancelled when the consumer stops."""
    pending: deque[tuple[int, Future[T]]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
            total=count, desc=label, unit="map", disable=not progress, leave=False) as bar:
        try:
            submitted = 0
            while submitted < count or pending:
                while submitted < count and len(pending) < 2 * workers:
                    pending.append((submitted, pool.submit(load, submitted)))
                    submitted += 1
                index, future = pending.popleft()
                result = future.result()
                bar.update()
                yield index, result
        finally:
            for _, future in pending:
                future.cancel()


def feed_class(scorers: Sequence[Scorer], items: ClassItems,
               image_scores: np.ndarray | None, workers: int, progress: bool,
               resize: str = "none", mask_threshold: float | None = None) -> None:
    """Read every (map, mask) of a class once, with `load_pair`, into each of `scorers`.
    One warning if the class's masks hold more than two distinct values (and no
    threshold was given: `Pair.multi_valued`)."""
    multi_valued = None
    pairs = read_ahead(lambda i: load_pair(items.maps[i], items.masks[i], resize,
                                           mask_threshold),
                       len(items.maps), workers, progress, f"reading {items.name}")
    with closing(pairs):  # on an error, the readers stop now
        for i, pair in pairs:
            score = None if image_scores is None else float(image_scores[i])
            try:
                for scorer in scorers:
                    scorer.add_image(pair.map, pair.mask, score)
            except NonFiniteMapError:
                raise ScoreInputError(f"{items.maps[i]}: map holds NaN or infinite "
                                      "values") from None
            except ScoreInputError as error:
                raise ScoreInputError(f"{items.maps[i]}: {error}") from None
            mask_path = items.masks[i]
            if pair.multi_valued and mask_path is not None and multi_valued is None:
                multi_valued = mask_path
    if multi_valued is not None:
        warnings.warn(multi_valued_message(items.name, multi_valued), stacklevel=2)
