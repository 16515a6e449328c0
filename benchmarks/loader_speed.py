"""Input pipeline speed: items/s of the training dataset read from image files (decode +
resize) and from the `--cache` memmap, in one process, and their ratio.

Multiply the per-process figure by the DataLoader workers to see whether the loader can
feed a GPU (e.g. rd's >= 1000 images/s at 256 px):

    python benchmarks/loader_speed.py --data data/coco/meta_20_0.json --image-size 256
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.data import ImageCache, ImageDataset, load_source


def items_per_second(dataset: ImageDataset, count: int) -> float:
    """Items of `dataset` read per second (the first `count`, in order)."""
    started = time.perf_counter()
    for index in range(count):
        dataset[index]
    return count / (time.perf_counter() - started)


@click.command()
@click.option("--data", type=click.Path(exists=True, path_type=Path), required=True,
              help="A cocoad meta file or an MVTec-style root.")
@click.option("--image-size", type=int, default=256, show_default=True)
@click.option("--count", type=int, default=200, show_default=True, help="Images to read.")
def main(data: Path, image_size: int, count: int) -> None:
    """Items/s from files vs from the uint8 cache, one process."""
    samples = load_source(data).train
    count = min(count, len(samples))
    samples = samples[:count]
    files = items_per_second(ImageDataset(samples, image_size), count)
    with tempfile.TemporaryDirectory() as folder:
        cache = ImageCache(samples, image_size, Path(folder), progress=False)
        cached = items_per_second(ImageDataset(samples, image_size, cache), count)
    click.echo(f"{count} images at {image_size} px, one process")
    click.echo(f"files (decode + resize)  {files:10.1f} images/s")
    click.echo(f"cache (uint8 memmap)     {cached:10.1f} images/s  ({cached / files:.1f}x)")


if __name__ == "__main__":
    main()
