"""Datasets and transforms: MVTec roots, meta files, resizing, normalisation, cache, sampler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from baselines.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DataError,
    ImageCache,
    ImageDataset,
    load_meta,
    load_source,
    make_loader,
    to_model_input,
)


def test_mvtec_root_samples(toy_mvtec_root: Path):
    source = load_source(toy_mvtec_root)
    assert source.name == toy_mvtec_root.name and source.fold is None
    assert len(source.train) == 32 and len(source.test) == 2 * (4 + 8)
    by_rel = {s.rel: s for s in source.test}
    blob = by_rel["tile/test/blob/000"]
    assert blob.mask == toy_mvtec_root / "tile/ground_truth/blob/000_mask.png"
    assert blob.cls_name == "tile"
    assert by_rel["grid/test/good/001"].mask is None


def _write_meta(root: Path, path: Path) -> None:
    """An ADer-style meta file for the toy root, with paths relative to `path`'s folder."""
    source = load_source(root)
    rel = lambda p: Path(p).relative_to(path.parent).as_posix()  # noqa: E731
    meta = {"train": {}, "test": {}}
    for split, samples in (("train", source.train), ("test", source.test)):
        for s in samples:
            meta[split].setdefault(s.cls_name, []).append({
                "img_path": rel(s.image), "mask_path": rel(s.mask) if s.mask else "",
                "cls_name": s.cls_name, "specie_name": "", "anomaly": int(s.mask is not None)})
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("remove, problem", [
    ("train", "class grid has no training images in train/good"),
    ("train/good", "class grid has no training images in train/good"),
    ("test", "missing test folder of class grid"),
])
def test_mvtec_class_without_train_or_test_is_an_error(make_toy_mvtec, remove: str,
                                                       problem: str):
    """A class that cannot be trained or tested is named, never silently left out."""
    import shutil

    root = make_toy_mvtec(classes=("tile", "grid"), n_train=2)
    shutil.rmtree(root / "grid" / remove)
    with pytest.raises(DataError, match=problem):
        load_source(root)


def test_meta_file_reads_the_same_images(make_toy_mvtec):
    root = make_toy_mvtec(n_train=3, n_test_good=2, n_test_defect=2)
    meta_path = root / "meta_20_2.json"  # ADer keeps meta.json in the data root
    _write_meta(root, meta_path)
    from_meta, from_root = load_meta(meta_path), load_source(root)
    assert from_meta.fold == 2

    def triples(source):
        return sorted((str(s.image), str(s.mask), s.cls_name, s.rel) for s in source.test)

    # same files, masks and classes; img_path "tile/test/..." is not prefixed again
    assert triples(from_meta) == triples(from_root)
    assert len(from_meta.train) == len(from_root.train) == 6


def _coco_meta(path: Path, n_train: int, n_test: int) -> Path:
    def entry(i: int) -> dict:
        return {"img_path": f"val2017/{i:012d}.jpg", "mask_path": "", "cls_name": "coco",
                "specie_name": "", "anomaly": 0}
    path.write_text(json.dumps({"train": {"coco": [entry(i) for i in range(n_train)]},
                                "test": {"coco": [entry(i) for i in range(n_test)]}}))
    return path


def test_coco_meta_is_named_coco_ad_only_at_the_real_sizes(tmp_path: Path):
    """COCO-AD's fold 0 has 30438 train and 4952 test images (docs/cocoad.md); a COCO-format
    fold of other sizes (a toy set, a subset) is `coco-format`, never ranked as COCO-AD."""
    real = load_source(_coco_meta(tmp_path / "meta_20_0.json", 30438, 4952))
    assert (real.name, real.fold, real.num_folds) == ("coco-ad", 0, 4)
    toy = load_source(_coco_meta(tmp_path / "meta_10_1.json", 1, 1))
    assert (toy.name, toy.fold, toy.num_folds) == ("coco-format", 1, 8)
    assert toy.test[0].rel == "coco/val2017/000000000000"
    unnamed = load_source(_coco_meta(tmp_path / "my_fold.json", 30438, 4952))
    assert (unnamed.name, unnamed.fold) == ("coco-format", None)


def test_broken_meta_is_a_data_error(tmp_path: Path):
    bad = tmp_path / "meta.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"meta\.json: not a cocoad/ADer meta file \(invalid JSON"):
        load_source(bad)
    bad.write_text(json.dumps({"train": {"coco": []}, "test": {"coco": [
        {"img_path": "x.jpg", "mask_path": "", "cls_name": "coco", "anomaly": 1}]}}))
    with pytest.raises(DataError, match=r"anomalous test image x\.jpg has no mask_path"):
        load_source(bad)


def test_images_are_resized_and_normalised(toy_mvtec_root: Path):
    source = load_source(toy_mvtec_root)
    image, index = ImageDataset(source.test, 32)[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 32, 32) and index == 0
    original = torch.from_numpy(np.array(Image.open(source.test[0].image).convert("RGB")))
    ref = F.interpolate(original.permute(2, 0, 1)[None].float(), size=(32, 32),
                        mode="bilinear", align_corners=False, antialias=True)[0]
    assert (image.float() - ref).abs().max() <= 1.0  # PIL rounds to uint8
    x = to_model_input(image[None], torch.device("cpu"), channels_last=False)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    torch.testing.assert_close(x[0], (image.float() / 255 - mean) / std)


def test_cache_gives_the_same_items_and_is_reused(toy_mvtec_root: Path, tmp_path: Path):
    source = load_source(toy_mvtec_root)
    cache = ImageCache(source.test, 32, tmp_path, progress=False, workers=2)
    plain, cached = ImageDataset(source.test, 32), ImageDataset(source.test, 32, cache)
    for i in range(len(plain)):
        a, b = plain[i], cached[i]
        assert torch.equal(a[0], b[0]) and a[1] == b[1]
    stamp = cache.images_path.stat().st_mtime_ns
    again = ImageCache(source.test, 32, tmp_path, progress=False)
    assert again.images_path == cache.images_path
    assert again.images_path.stat().st_mtime_ns == stamp
    assert ImageCache(source.test, 48, tmp_path, progress=False).images_path != cache.images_path
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_sampler_order_depends_on_seed_and_epoch_and_splits_global_batches(
        toy_mvtec_root: Path):
    dataset = ImageDataset(load_source(toy_mvtec_root).train, 16)

    def batches(batch, seed, epoch, rank=0, world=1):
        loader = make_loader(dataset, batch, train=True, seed=seed, workers=0,
                             pin_memory=False, rank=rank, world_size=world)
        loader.sampler.set_epoch(epoch)
        return [indices.tolist() for _, indices in loader]

    one = batches(8, seed=1, epoch=0)
    assert one == batches(8, seed=1, epoch=0)
    assert one != batches(8, seed=1, epoch=1) and one != batches(8, seed=2, epoch=0)
    assert len(one) == 4 and sorted(i for b in one for i in b) == list(range(32))
    # two processes with 4 each see, at every step, the single process's batch of 8
    rank0, rank1 = batches(4, 1, 0, 0, 2), batches(4, 1, 0, 1, 2)
    assert [sorted(a + b) for a, b in zip(rank0, rank1, strict=True)] == [sorted(b) for b in one]


def test_worker_processes_yield_the_same_batches(toy_mvtec_root: Path):
    dataset = ImageDataset(load_source(toy_mvtec_root).train, 16)

    def batches(workers: int):
        loader = make_loader(dataset, 8, train=True, seed=4, workers=workers, pin_memory=False)
        loader.sampler.set_epoch(1)
        return [(images, indices) for images, indices in loader]

    for (a, i), (b, j) in zip(batches(0), batches(2), strict=True):
        assert torch.equal(i, j) and torch.equal(a, b)


def test_cached_run_trains_like_an_uncached_one(toy_mvtec_root: Path, tmp_path: Path):
    """Bit for bit: the cache holds the same uint8 images, so both runs compute the same
    operations in the same order, in one process on one CPU."""
    from adbench.pipeline import RunConfig, run_baseline

    def checkpoint(name: str, cache: bool) -> dict:
        run_baseline(RunConfig(name="ae", data=toy_mvtec_root, epochs=1, batch_size=8,
                               image_size=32, weights="none", device="cpu", seed=0,
                               out=tmp_path / name, record=False, evaluate=False,
                               progress=False, cache=cache, cache_dir=tmp_path / "cache"))
        return torch.load(tmp_path / name / "checkpoint.pt", weights_only=False)["model"]

    plain, cached = checkpoint("plain", False), checkpoint("cached", True)
    assert len(list((tmp_path / "cache").glob("*.images.npy"))) == 2  # train and test
    for key, value in plain.items():
        assert torch.equal(value, cached[key])


def test_meta_paths_outside_the_meta_folder_stay_inside_the_run(tmp_path: Path):
    """cocoad writes paths like ../coco/val2017/x.jpg when --out is not the COCO root;
    the map's relative path must not climb out of RUN_DIR/maps."""
    images = tmp_path / "coco" / "val2017"
    images.mkdir(parents=True)
    for name in ("a", "b"):
        Image.new("RGB", (8, 8)).save(images / f"{name}.jpg")
    entry = {"mask_path": "", "cls_name": "coco", "specie_name": "", "anomaly": 0}
    meta = {"train": {"coco": [{**entry, "img_path": "../coco/val2017/a.jpg"}]},
            "test": {"coco": [{**entry, "img_path": "../coco/val2017/a.jpg"},
                              {**entry, "img_path": str(images / "b.jpg")}]}}
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "meta_20_1.json").write_text(json.dumps(meta))
    source = load_source(tmp_path / "out" / "meta_20_1.json")
    assert [s.rel for s in source.test] == ["coco/val2017/a", "coco/val2017/b"]
    assert source.test[0].image.resolve() == (images / "a.jpg").resolve()

    meta["test"]["coco"].append({**entry, "img_path": "../other/val2017/a.jpg"})
    (tmp_path / "out" / "meta_20_1.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"would share the map coco/val2017/a$"):
        load_source(tmp_path / "out" / "meta_20_1.json")


def test_malformed_meta_entries_are_data_errors(tmp_path: Path):
    """The meta file is validated by cocoad.meta; run-baseline sees a DataError."""
    bad = tmp_path / "meta.json"
    entry = {"img_path": "x.jpg", "mask_path": "", "cls_name": "coco", "anomaly": 0}
    for content, problem in (
            ({"train": {"coco": [{"img_path": "x.jpg"}]}, "test": {}},
             "train entry without cls_name"),
            ({"train": {}, "test": [1, 2]}, "'test' must map class names"),
            ({"train": {}, "test": {"coco": [{**entry, "anomaly": 2}]}}, "anomaly other")):
        bad.write_text(json.dumps(content))
        with pytest.raises(DataError, match=problem):
            load_source(bad)
