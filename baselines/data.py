"""Datasets, transforms, the optional uint8 cache and the DataLoaders of the trainer.

Sources (`--data`): a cocoad/ADer meta file (`{"train": {cls: [entry...]}, "test": ...}`,
paths relative to the meta file's folder) or an MVTec AD / VisA style root
(`<class>/train/good`, `<class>/test/<defect>`, `<class>/ground_truth/<defect>`).

Transforms (docs/baselines.md): images resized to S x S bilinear (PIL, as torchvision's
Resize does on PIL images). The loaders yield uint8 images; `to_model_input` converts and
ImageNet-normalises them on the device, so host-to-device copies are 4x smaller and the
workers only decode and resize. `--cache` stores the resized uint8 images once in a .npy
memmap so that later epochs and runs skip JPEG decoding entirely. Masks are not read
here: training never needs them, and the run pipeline evaluates against them with the
scorer's own rule (docs/metrics.md, "Evaluation size").
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from adcommon.atomic import atomic_path
from adcommon.errors import InputError
from baselines.normalisation import IMAGENET_MEAN, IMAGENET_STD
from cocoad.meta import (
    MetaEntry,
    MetaError,
    check_distinct_maps,
    map_rel,
    parse_meta_name,
    read_meta,
)
from cocoad.reference import OTHER_LABEL, dataset_label

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


class DataError(InputError):
    """The dataset cannot be read as given: a one-line message naming the file."""


@dataclass(frozen=True)
class Sample:
    """One image: its file, its mask file (None for a normal image), its class and the
    relative path (no suffix) its map and evaluated mask are written under."""

    image: Path
    mask: Path | None
    cls_name: str
    rel: str


@dataclass(frozen=True)
class DataSource:
    """A dataset as the run sees it: a name, its fold (and the split's number of folds,
    both from a `meta_P_K.json` name) and its splits."""

    name: str
    fold: int | None
    train: list[Sample]
    test: list[Sample]
    num_folds: int | None = None


def _meta_samples(entries: list[MetaEntry], split: str, base: Path,
                  path: Path) -> list[Sample]:
    samples = []
    for entry in entries:
        if entry.anomalous and not entry.mask_path and split == "test":
            raise DataError(f"{path}: anomalous test image {entry.img_path} has no mask_path")
        mask = base / entry.mask_path if entry.mask_path else None
        samples.append(Sample(base / entry.img_path, mask, entry.cls_name, map_rel(entry)))
    return samples


def load_meta(path: Path) -> DataSource:
    """A cocoad/ADer meta file (read by `cocoad.meta`, which also places each test
    image's map); the fold comes from its name `meta_P_K.json` if present. A COCO-format
    file is named `coco-ad` only when the fold has the real COCO-AD sizes
    (`cocoad.reference`), else `coco-format`."""
    try:
        meta = read_meta(path, splits=("train", "test"))
        check_distinct_maps(meta["test"], [map_rel(e) for e in meta["test"]], path)
    except MetaError as error:
        raise DataError(str(error)) from None
    base = path.parent
    train = _meta_samples(meta["train"], "train", base, path)
    test = _meta_samples(meta["test"], "test", base, path)
    named = parse_meta_name(path)
    if {s.cls_name for s in test} != {"coco"}:
        name = path.stem
    elif named is None:
        name = OTHER_LABEL
    else:  # COCO-AD only when the fold has the real sizes
        name = dataset_label(named.fold, named.num_folds, len(train), len(test))
    if named is None:
        return DataSource(name, None, train, test)
    return DataSource(name, named.fold, train, test, named.num_folds)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _find_mask(root: Path, cls_name: str, defect: str, image: Path) -> Path:
    folder = root / cls_name / "ground_truth" / defect
    for name in (f"{image.stem}_mask", image.stem):
        for suffix in (".png", ".PNG"):
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    raise DataError(f"{image}: no mask {folder}/{image.stem}_mask.png (MVTec layout)")


CLASS_FOLDER_PARTS = ("train", "test", "ground_truth")
"""A folder of an MVTec AD / VisA root holding any of these is a class folder."""


def load_mvtec_root(root: Path) -> DataSource:
    """Every class folder of an MVTec AD / VisA style root (a folder holding `train/`,
    `test/` or `ground_truth/`). Each class needs training images in `train/good` and a
    `test` folder: a class without them is an error naming it, never silently left out."""
    classes = sorted(p.name for p in root.iterdir()
                     if p.is_dir() and any((p / part).is_dir() for part in CLASS_FOLDER_PARTS))
    if not classes:
        raise DataError(f"{root}: no <class>/train/good folder (not an MVTec AD / VisA root)")
    train, test = [], []
    for cls_name in classes:
        good = root / cls_name / "train" / "good"
        images = _images_in(good) if good.is_dir() else []
        if not images:
            raise DataError(f"{root / cls_name}: class {cls_name} has no training images "
                            f"in train/good")
        train += [Sample(image, None, cls_name, "") for image in images]
        test_dir = root / cls_name / "test"
        if not test_dir.is_dir():
            raise DataError(f"{test_dir}: missing test folder of class {cls_name}")
        for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
            for image in _images_in(defect_dir):
                mask = None if defect_dir.name == "good" else _find_mask(
                    root, cls_name, defect_dir.name, image)
                test.append(Sample(image, mask, cls_name,
                                   f"{cls_name}/test/{defect_dir.name}/{image.stem}"))
    return DataSource(root.resolve().name, None, train, test)


def load_source(data: Path) -> DataSource:
    """A meta file (a .json file) or an MVTec AD / VisA style root (a folder)."""
    if data.is_file():
        return load_meta(data)
    if data.is_dir():
        return load_mvtec_root(data)
    raise DataError(f"{data}: no such file or folder")


def load_image(path: Path, size: int) -> np.ndarray:
    """(S, S, 3) uint8 RGB, resized bilinear."""
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except OSError as error:
        raise DataError(f"{path}: cannot read image ({error})") from None
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.array(rgb, dtype=np.uint8)


class ImageCache:
    """Pre-resized uint8 images (N, S, S, 3) in a .npy file, memory-mapped.

    The key hashes the image size and every image file's path, size and mtime, so a
    changed dataset gets a new cache. Built once (threads decode in parallel), written
    under a temporary name and renamed, so an interrupted build leaves nothing
    half-written.
    """

    def __init__(self, samples: Sequence[Sample], size: int, folder: Path,
                 progress: bool = True, workers: int = 8) -> None:
        digest = hashlib.sha256(str(size).encode())
        for sample in samples:
            stat = sample.image.stat()
            digest.update(f"{sample.image.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        key = digest.hexdigest()[:24]
        self.images_path = folder / f"{key}-{size}.images.npy"
        if not self.images_path.is_file():
            self._build(samples, size, folder, progress, workers)
        self.images = np.load(self.images_path, mmap_mode="r")

    def _build(self, samples: Sequence[Sample], size: int, folder: Path,
               progress: bool, workers: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.images_path) as temp:
            images = np.lib.format.open_memmap(temp, "w+", np.uint8,
                                               (len(samples), size, size, 3))

            def fill(index: int) -> None:
                images[index] = load_image(samples[index].image, size)

            with ThreadPoolExecutor(max(1, workers)) as pool:
                jobs = pool.map(fill, range(len(samples)))
                for _ in tqdm(jobs, total=len(samples), desc="caching images",
                              disable=not progress, leave=False):
                    pass
            images.flush()


class ImageDataset(Dataset):
    """Items (uint8 image (3, S, S), index), from the files or an ImageCache."""

    def __init__(self, samples: Sequence[Sample], size: int, cache: ImageCache | None = None
                 ) -> None:
        self.samples = list(samples)
        self.size = size
        self.cache = cache

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if self.cache is not None:
            image = np.array(self.cache.images[index])
        else:
            image = load_image(self.samples[index].image, self.size)
        return torch.from_numpy(image).permute(2, 0, 1).contiguous(), index


@functools.lru_cache(maxsize=8)
def _imagenet_stats(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return mean, std


def to_model_input(images: torch.Tensor, device: torch.device, channels_last: bool
                   ) -> torch.Tensor:
    """uint8 (B, 3, S, S) -> float32 on `device`, scaled to [0, 1] and ImageNet-normalised."""
    x = images.to(device, non_blocking=True).float().div_(255.0)
    mean, std = _imagenet_stats(device)
    x = (x - mean) / std
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def default_workers(device: torch.device) -> int:
    """Loader processes per training process: on CUDA up to 8, sharing the cores with the
    other processes of this machine (torchrun's LOCAL_WORLD_SIZE) and leaving one for
    the main loop; 0 on the CPU, where the training itself needs the cores."""
    if device.type != "cuda":
        return 0
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, min(8, (os.cpu_count() or 2) // local_processes - 1))


def make_loader(dataset: ImageDataset, batch_size: int, *, train: bool, seed: int,
                workers: int, pin_memory: bool, rank: int = 0, world_size: int = 1
                ) -> DataLoader:
    """A DataLoader over `dataset`.

    Training: a DistributedSampler (also with one process) shuffling with seed + epoch
    (call `loader.sampler.set_epoch(e)`), drop_last, per-process batch `batch_size`; so a
    run's sample order is a function of (seed, epoch) alone, which makes resume exact and
    a DDP run see the same global batches as one process. Test: in order, no drop.
    Workers are persistent with a deeper prefetch queue, and memory is pinned on CUDA.
    """
    sampler: DistributedSampler[ImageDataset] | None = (
        DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        if train else None)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=False,
                      drop_last=train, num_workers=workers, pin_memory=pin_memory,
                      persistent_workers=workers > 0,
                      prefetch_factor=4 if workers > 0 else None)
