"""How files become arrays and folders become classes, fault by fault: MVTec trees,
PREDS/GTS overlap, palette masks, symlinked classes, forged headers, unreadable files,
mask values and thresholds, and the evaluation-size switch (`resize`).

References: PIL and torch/torchvision called directly in the tests (torch skipped
cleanly where it is not installed), np.unique, np.load, plain loops.
"""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from adbench.cli import main
from metrics import (
    METRIC_KEYS,
    ScoreInputError,
    load_pair,
    resize_map,
    resize_mask,
    score,
    score_folders,
)
from metrics.readers import holds_more_than_two_values, read_map, read_mask

# ----------------------------------------------------------------------------- helpers


def _save_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)


def _save_map(path: Path, amap: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, amap.astype(np.float32))


def _one_line_error(call, *names: object) -> str:
    """call() must raise ScoreInputError whose message is one line naming every name."""
    with pytest.raises(ScoreInputError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    for name in names:
        assert str(name) in message, message
    return message


def _cli_error(*args: object) -> str:
    """`adbench score ARGS` must fail with exactly one 'Error: ' line, no traceback."""
    res = CliRunner().invoke(main, ["score", *map(str, args)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, res.output
    return errors[0]


def _toy_class(preds: Path, gts: Path, name: str, rng: np.random.Generator, n: int = 6,
               size: tuple[int, int] = (12, 10)) -> tuple[list, list]:
    """n maps under PREDS/name, masks for the even ones under GTS/name; the arrays."""
    maps, masks = [], []
    for i in range(n):
        mask = np.zeros(size, bool)
        if i % 2 == 0:
            mask[i % 5:i % 5 + 4, 2:6] = True
            _save_mask(gts / name / f"{i:03d}.png", mask)
        amap = rng.random(size).astype(np.float32) + mask
        _save_map(preds / name / f"{i:03d}.npy", amap)
        maps.append(amap)
        masks.append(mask)
    return maps, masks


def _png_declaring(width: int, height: int) -> bytes:
    """A 1x1 grayscale PNG whose IHDR (checksum fixed) declares width x height."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # IHDR data starts after its type
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _tiff_declaring(width: int, height: int, pixels: bytes) -> bytes:
    """A little-endian 32-bit float grayscale TIFF with one strip holding `pixels`."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 32), (259, 3, 1), (262, 3, 1),
            (273, 4, None), (277, 3, 1), (278, 4, height),
            (279, 4, min(width * height * 4, 2**32 - 1)), (339, 3, 3)]
    data_at = 8 + 2 + 12 * len(tags) + 4
    out = b"II*\0" + struct.pack("<IH", 8, len(tags))
    for tag, kind, value in tags:
        value = data_at if value is None else value
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    return out + struct.pack("<I", 0) + pixels


def _npy_declaring(shape: tuple[int, ...], payload: bytes) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + payload


# ----------------------------------------------------------------------- folder rules


def test_mvtec_class_without_ground_truth_has_no_masks(tmp_path: Path):
    """Class 'screw' has only good test images (no ground_truth folder): its test and
    train images must not be read as masks; 'bottle' is scored as usual."""
    rng = np.random.default_rng(0)
    mvtec, preds = tmp_path / "mvtec", tmp_path / "preds"
    maps, masks = [], []
    for defect, n in (("good", 2), ("crack", 3)):
        for i in range(n):
            mask = np.zeros((8, 8), bool)
            if defect == "crack":
                mask[i:i + 3, 2:5] = True
                _save_mask(mvtec / "bottle" / "ground_truth" / defect / f"{i:03d}_mask.png",
                           mask)
            amap = rng.random((8, 8)).astype(np.float32)
            _save_map(preds / "bottle" / "test" / defect / f"{i:03d}.npy", amap)
            maps.append(amap)
            masks.append(mask)
    bright = np.full((8, 8, 3), 200, np.uint8)  # images: nonzero everywhere
    for split in ("test", "train"):
        for i in range(3):
            (mvtec / "screw" / split / "good").mkdir(parents=True, exist_ok=True)
            Image.fromarray(bright).save(mvtec / "screw" / split / "good" / f"{i:03d}.png")
            _save_map(preds / "screw" / split / "good" / f"{i:03d}.npy",
                      rng.random((8, 8)))
    with pytest.warns(UserWarning, match="class screw"):
        result = score_folders(preds, mvtec)
    assert result["counts"] == {"bottle": {"normal": 2, "anomalous": 3},
                                "screw": {"normal": 6, "anomalous": 0}}
    assert all(result["classes"]["screw"][key] is None for key in METRIC_KEYS)
    assert result["classes"]["bottle"] == score(maps, masks)
    # one class folder as GTS (ground_truth directly inside) is an MVTec tree too
    single = score_folders(preds / "bottle", mvtec / "bottle")
    assert single["counts"] == {"test": {"normal": 2, "anomalous": 3}}
    assert single["classes"]["test"] == score(maps, masks)


def test_mvtec_mask_outside_test_layout_is_reported(tmp_path: Path):
    """Maps written without the `test` folder in an MVTec tree: the masks are not found,
    and the unused masks are reported instead of scoring every image as normal."""
    rng = np.random.default_rng(1)
    mvtec, preds = tmp_path / "mvtec", tmp_path / "preds"
    mask = np.zeros((8, 8), bool)
    mask[2:5, 2:5] = True
    _save_mask(mvtec / "bottle" / "ground_truth" / "crack" / "000_mask.png", mask)
    _save_map(preds / "bottle" / "crack" / "000.npy", rng.random((8, 8)))
    _one_line_error(lambda: score_folders(preds, mvtec), "000_mask.png", "mask without a map")


@pytest.mark.parametrize("layout", ["same", "preds_inside", "gts_inside"])
def test_preds_and_gts_must_be_apart(tmp_path: Path, layout: str):
    """PNG maps beside (or inside) their masks were scored as masks; now an error."""
    root = tmp_path / "data"
    mask = np.zeros((8, 8), bool)
    mask[1:4, 1:4] = True
    _save_mask(root / "a" / "000.png", mask)
    preds, gts = {"same": (root, root), "preds_inside": (root / "a", root),
                  "gts_inside": (root, root / "a")}[layout]
    Image.fromarray((np.arange(64).reshape(8, 8)).astype(np.uint8)).save(
        root / "a" / "001.png")
    line = _cli_error(preds, gts)
    assert str(preds) in line and str(gts) in line and "separate folders" in line
    # also through a symbolic link to the same folder
    if layout == "same":
        link = tmp_path / "link"
        try:
            link.symlink_to(root, target_is_directory=True)
        except OSError:
            pytest.skip("no symbolic links here")
        _one_line_error(lambda: score_folders(link, root), link, "separate folders")


def test_symlinked_class_folders_are_scored_and_loops_not_followed_twice(tmp_path: Path):
    rng = np.random.default_rng(2)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    elsewhere_preds, elsewhere_gts = tmp_path / "other_preds", tmp_path / "other_gts"
    arrays = {"a": _toy_class(preds, gts, "a", rng),
              "b": _toy_class(elsewhere_preds, elsewhere_gts, "b", rng)}
    try:
        (preds / "b").symlink_to(elsewhere_preds / "b", target_is_directory=True)
        (gts / "b").symlink_to(elsewhere_gts / "b", target_is_directory=True)
        (preds / "a" / "loop").symlink_to(preds / "a", target_is_directory=True)
    except OSError:
        pytest.skip("no symbolic links here")
    with pytest.warns(UserWarning, match="loop|link back"):
        result = score_folders(preds, gts)
    assert sorted(result["classes"]) == ["a", "b"]
    for name, (maps, masks) in arrays.items():
        assert result["classes"][name] == score(maps, masks)
        assert result["counts"][name] == {"normal": 3, "anomalous": 3}


# ----------------------------------------------------------------------- mask values


def test_palette_masks_are_read_through_their_palette(tmp_path: Path):
    """Index 0 is white here: read by index the mask would be inverted."""
    expected = np.zeros((6, 7), bool)
    expected[1:4, 2:5] = True
    indices = np.where(expected, 0, 1).astype(np.uint8)
    image = Image.frombytes("P", (7, 6), indices.tobytes())
    image.putpalette([255, 255, 255, 0, 0, 0] + [0, 0, 0] * 254)
    image.save(tmp_path / "white_first.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "white_first.png"), expected)
    # a dark-red palette colour is a colour, hence anomalous; transparency is ignored
    image.putpalette([0, 0, 0, 90, 0, 0] + [0, 0, 0] * 254)
    image.info["transparency"] = 1
    image.save(tmp_path / "red.png", transparency=1)
    np.testing.assert_array_equal(read_mask(tmp_path / "red.png"), ~expected)
    # a palette PNG as a map would be scored by palette index: refused
    _one_line_error(lambda: read_map(tmp_path / "white_first.png"), "white_first.png",
                    "palette")


def test_palette_masks_through_score_folders(tmp_path: Path):
    rng = np.random.default_rng(3)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    maps, masks = _toy_class(preds, gts, "a", rng)
    for i, mask in enumerate(masks):
        if mask.any():
            indices = np.where(mask, 0, 1).astype(np.uint8)
            image = Image.frombytes("P", indices.shape[::-1], indices.tobytes())
            image.putpalette([255, 255, 255, 0, 0, 0] + [0, 0, 0] * 254)
            image.save(gts / "a" / f"{i:03d}.png")
    assert score_folders(preds, gts)["classes"]["a"] == score(maps, masks)


@pytest.mark.parametrize("threshold", [None, 0, 127, 127.5, 200])
def test_mask_threshold(tmp_path: Path, threshold: float | None):
    rng = np.random.default_rng(4)
    grey = rng.choice(np.array([0, 1, 50, 127, 128, 200, 255], np.uint8), size=(9, 11))
    Image.fromarray(grey).save(tmp_path / "grey.png")
    expected = grey != 0 if threshold is None else grey > threshold
    np.testing.assert_array_equal(read_mask(tmp_path / "grey.png", threshold), expected)
    colour = rng.choice(np.array([0, 100, 130], np.uint8), size=(9, 11, 4))
    Image.fromarray(colour).save(tmp_path / "colour.png")
    rgb = colour[..., :3]  # alpha is never a colour
    expected = (rgb != 0 if threshold is None else rgb > threshold).any(axis=2)
    np.testing.assert_array_equal(read_mask(tmp_path / "colour.png", threshold), expected)


def test_soft_masks_warn_once_per_class_naming_the_first(tmp_path: Path):
    rng = np.random.default_rng(5)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    for name in ("binary", "soft"):
        _toy_class(preds, gts, name, rng)
    soft = {}
    for i in (2, 4):  # two anti-aliased masks; 002 comes first
        values = np.zeros((12, 10), np.uint8)
        values[3:8, 2:7] = 255
        values[2, 2:7] = 90
        Image.fromarray(values).save(gts / "soft" / f"{i:03d}.png")
        soft[i] = values
    # a black-and-red colour mask holds two colours: no warning for it
    two_colours = np.zeros((12, 10, 3), np.uint8)
    two_colours[4:6, 4:6] = (200, 0, 0)
    Image.fromarray(two_colours).save(gts / "binary" / "000.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score_folders(preds, gts)
    texts = [str(w.message) for w in caught if "distinct values" in str(w.message)]
    assert len(texts) == 1, texts
    assert "class soft" in texts[0] and str(gts / "soft" / "002.png") in texts[0]
    assert "--mask-threshold" in texts[0]
    assert result["counts"]["soft"]["anomalous"] == 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        high = score_folders(preds, gts, mask_threshold=127)
    assert not [w for w in caught if "distinct values" in str(w.message)]
    maps, masks = [], []
    for i in range(6):
        maps.append(np.load(preds / "soft" / f"{i:03d}.npy"))
        mask_file = gts / "soft" / f"{i:03d}.png"
        values = np.asarray(Image.open(mask_file)) if mask_file.exists() else np.zeros(
            (12, 10), np.uint8)
        masks.append(values > 127)
    assert high["classes"]["soft"] == score(maps, masks)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                  elements=st.sampled_from([0, 1, 7, 255])),
       st.booleans())
def test_more_than_two_values_counts_distinct_colours(values: np.ndarray, colour: bool):
    if colour:  # (H, W, 3): distinct colours, whatever the channels hold
        values = np.stack([values, values[::-1], np.zeros_like(values)], axis=2)
        distinct = len(np.unique(values.reshape(-1, 3), axis=0))
    else:
        distinct = len(np.unique(values))
    assert holds_more_than_two_values(values) == (distinct > 2)


# ------------------------------------------------------------- forged and bad files


def test_forged_npy_and_npz_headers_allocate_nothing(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    forged = _npy_declaring((100_000, 100_000), b"\0" * 64)
    (tmp_path / "big.npy").write_bytes(forged)
    with zipfile.ZipFile(tmp_path / "big.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("anomaly_map.npy", forged)
    tracemalloc.start()
    try:
        for name in ("big.npy", "big.npz"):
            message = _one_line_error(lambda name=name: read_map(tmp_path / name), name,
                                      "100000x100000")
            assert "holds 64 bytes" in message
        assert tracemalloc.get_traced_memory()[1] < 16 * 2**20
    finally:
        tracemalloc.stop()
    # a truthful but compressed member over the pixel limit is refused before reading
    np.savez_compressed(tmp_path / "wide.npz", anomaly_map=np.zeros((40, 40), np.float32))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    _one_line_error(lambda: read_map(tmp_path / "wide.npz"), "wide.npz", "1600 values",
                    "over the limit of 1000")
    monkeypatch.undo()
    np.testing.assert_array_equal(read_map(tmp_path / "wide.npz"), np.zeros((40, 40)))
    # a header shorter than its data is no better
    (tmp_path / "short.npy").write_bytes(_npy_declaring((2, 2), b"\0" * 32))
    _one_line_error(lambda: read_map(tmp_path / "short.npy"), "short.npy", "holds 32 bytes")


def _npy_with_padded_header(array: np.ndarray, length: int) -> bytes:
    """A valid version 1.0 .npy file whose header is padded with spaces to ~length."""
    header = repr({"descr": np.lib.format.dtype_to_descr(array.dtype),
                   "fortran_order": False, "shape": array.shape})
    size = -(-(10 + length + 1) // 64) * 64 - 10  # header + newline, aligned to 64
    text = (header + " " * (size - 1 - len(header)) + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + array.tobytes()


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["<f4", ">f4", "<f8", ">f8", "<f2", "|u1", "<i2", "|b1"]),
       st.lists(st.integers(1, 7), min_size=0, max_size=3), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_read_npy_matches_numpy_for_any_header(dtype: str, shape: list[int],
                                                fortran: bool, seed: int):
    """Headers are parsed once per distinct header and the data read in place: every
    file of a folder of varied headers (dtypes, byte orders, shapes, C or Fortran order,
    a header longer than the first read) must still read as `np.load` reads it."""
    import tempfile

    from metrics.npyfiles import read_npy
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(rng.random(shape) * 100).astype(dtype),
              np.asfortranarray(rng.random((*shape, 2))).astype(dtype) if fortran
              else rng.random((2, *shape)).astype(dtype),
              np.ones((3, 2), dtype=dtype)]
    with tempfile.TemporaryDirectory() as folder:
        for i, array in enumerate(arrays * 2):  # each header met twice
            path = Path(folder) / f"{i}.npy"
            np.save(path, array)
            if i == 2:  # the same array behind a header of over 4096 bytes
                path.write_bytes(_npy_with_padded_header(array, 5000))
            got = read_npy(path)
            expected = np.load(path)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)
        truncated = Path(folder) / "truncated.npy"
        np.save(truncated, arrays[1])
        truncated.write_bytes(truncated.read_bytes()[:-1])
        with pytest.raises(ScoreInputError, match=r"truncated\.npy: header declares"):
            read_npy(truncated)


def test_forged_image_headers_are_one_line_errors(tmp_path: Path):
    rng = np.random.default_rng(6)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    _toy_class(preds, gts, "a", rng)
    (preds / "a" / "000.npy").unlink()
    (preds / "a" / "000.png").write_bytes(_png_declaring(100_000, 100_000))
    assert "000.png: map too large to read" in _cli_error(preds, gts)
    (preds / "a" / "000.png").unlink()
    (preds / "a" / "000.tif").write_bytes(_tiff_declaring(100_000, 100_000, b"\0" * 4))
    assert "000.tif: map too large to read" in _cli_error(preds, gts)
    (preds / "a" / "000.tif").write_bytes(_tiff_declaring(3000, 3000, b"\0" * 4))
    assert "000.tif: cannot read map (image file is truncated" in _cli_error(preds, gts)
    (preds / "a" / "000.tif").write_bytes(_tiff_declaring(10, 12, rng.random(
        (12, 10), dtype=np.float32).tobytes()))
    assert score_folders(preds, gts)["counts"]["a"] == {"normal": 3, "anomalous": 3}
    (gts / "a" / "002.png").write_bytes(_png_declaring(100_000, 100_000))
    assert "002.png: mask too large to read" in _cli_error(preds, gts)


def test_unreadable_and_non_image_files(tmp_path: Path):
    rng = np.random.default_rng(7)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    _toy_class(preds, gts, "a", rng)
    (preds / "a" / "001.npy").unlink()
    (preds / "a" / "001.npy").symlink_to(tmp_path / "nowhere.npy")  # dangling
    assert "001.npy: cannot read map (" in _cli_error(preds, gts)
    (preds / "a" / "001.npy").unlink()
    for suffix in (".png", ".tif", ".npz", ".npy"):
        (preds / "a" / f"001{suffix}").write_text("a text file")
        assert f"001{suffix}: cannot read map" in _cli_error(preds, gts)
        (preds / "a" / f"001{suffix}").unlink()
    np.save(preds / "a" / "001.npy", np.array(["text"]))
    assert "001.npy: a map must be 2-D" in _cli_error(preds, gts)
    np.save(preds / "a" / "001.npy", np.zeros((0, 5), np.float32))
    assert "001.npy: the map is empty" in _cli_error(preds, gts)
    _save_map(preds / "a" / "001.npy", rng.random((12, 10)))
    (gts / "a" / "002.png").write_text("not a png")
    assert "002.png: cannot read mask" in _cli_error(preds, gts)
    _save_mask(gts / "a" / "002.png", np.ones((12, 10), bool))
    _save_mask(gts / "a" / "001.png", np.ones((12, 10), bool))
    (preds / "a" / "001.npy").unlink()
    assert "001.png: mask without a map" in _cli_error(preds, gts)
    only_text = tmp_path / "empty_preds"
    (only_text / "a").mkdir(parents=True)
    (only_text / "a" / "notes.txt").write_text("no maps here")
    assert "no anomaly maps" in _cli_error(only_text, gts)


# ------------------------------------------------------------------ evaluation size


def test_resize_none_names_both_files_and_sizes(tmp_path: Path):
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    _save_map(preds / "a" / "000.npy", np.zeros((16, 20)))
    _save_mask(gts / "a" / "000.png", np.ones((8, 10), bool))
    line = _cli_error(preds, gts)
    for text in (preds / "a" / "000.npy", gts / "a" / "000.png", "16x20", "8x10"):
        assert str(text) in line
    _one_line_error(lambda: score_folders(preds, gts, resize="bigger"), "unknown resize")
    _one_line_error(lambda: score_folders(preds, gts, mask_threshold=float("nan")),
                    "mask threshold")


def test_resize_masks_and_maps_through_score_folders(tmp_path: Path):
    """Normal images get all-zero mask files here: a map without a mask keeps its own
    size (a class of mixed sizes), which the per-class stack of today cannot hold."""
    rng = np.random.default_rng(8)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    maps, masks = [], []
    for i in range(4):
        mask = np.zeros((30, 22), bool)
        if i % 2 == 0:
            mask[5 + i:19, 4:13 + i] = True
        _save_mask(gts / "a" / f"{i:03d}.png", mask)
        amap = rng.random((16, 16)).astype(np.float32)
        _save_map(preds / "a" / f"{i:03d}.npy", amap)
        maps.append(amap)
        masks.append(mask)
    by_masks = score_folders(preds, gts, resize="masks")
    assert by_masks["resize"] == "masks"
    pil_masks = [np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize(
        (16, 16), Image.Resampling.BILINEAR)) >= 128 for m in masks]
    assert by_masks["classes"]["a"] == score(maps, pil_masks)
    by_maps = score_folders(preds, gts, resize="maps")
    assert by_maps["resize"] == "maps"
    assert by_maps["classes"]["a"] == score([resize_map(m, (30, 22)) for m in maps], masks)
    torch = pytest.importorskip("torch")
    for amap in maps:
        ref = torch.nn.functional.interpolate(torch.from_numpy(amap)[None, None],
                                              size=(30, 22), mode="bilinear",
                                              align_corners=False)[0, 0].numpy()
        np.testing.assert_allclose(resize_map(amap, (30, 22)), ref, rtol=0, atol=1e-6)


def test_load_pair_keeps_values_and_types(tmp_path: Path):
    """No clipping or rescaling: a map of any range comes back bitwise (float32 for
    8/16-bit and float16 maps, float64 kept), the normal image's mask all False."""
    values = np.array([[-3.5, 0.0], [1e6, 2.0]])
    np.save(tmp_path / "wide.npy", values)
    pair = load_pair(tmp_path / "wide.npy", None)
    assert pair.map.dtype == np.float64 and np.array_equal(pair.map, values)
    assert pair.mask.dtype == bool and pair.mask.shape == (2, 2) and not pair.mask.any()
    sixteen = (np.arange(6).reshape(2, 3) * 10000).astype(np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "sixteen.png")
    _save_mask(tmp_path / "m.png", np.eye(4, 6, dtype=bool))
    pair = load_pair(tmp_path / "sixteen.png", tmp_path / "m.png", resize="masks")
    assert pair.map.dtype == np.float32 and np.array_equal(pair.map, sixteen)
    assert pair.mask.shape == (2, 3) and not pair.multi_valued
    np.save(tmp_path / "half.npy", np.full((4, 6), 7.25, np.float16))
    pair = load_pair(tmp_path / "half.npy", tmp_path / "m.png")
    assert pair.map.dtype == np.float32 and (pair.map == 7.25).all()


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(bool, st.tuples(st.integers(1, 40), st.integers(1, 40))),
       st.tuples(st.integers(1, 70), st.integers(1, 70)))
def test_resize_mask_is_pils_bilinear_at_128(mask: np.ndarray, shape: tuple[int, int]):
    image = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8))
    ref = np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)) >= 128
    ours = resize_mask(mask, shape)
    assert ours.dtype == bool and ours.shape == shape
    np.testing.assert_array_equal(ours, ref)


def test_resize_mask_is_aders_torchvision_pipeline():
    """ADer: transforms.Resize on the PIL mask, ToTensor, > 0.5."""
    transforms = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(9)
    for shape, size in (((37, 29), (16, 16)), ((10, 13), (64, 48)), ((1, 1), (5, 3))):
        mask = rng.random(shape) > 0.5
        pipeline = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
        ref = pipeline(Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)))[0] > 0.5
        np.testing.assert_array_equal(resize_mask(mask, size), ref.numpy())


def _torch_resize(amap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(np.ascontiguousarray(amap))[None, None]
    return torch.nn.functional.interpolate(tensor, size=shape, mode="bilinear",
                                           align_corners=False)[0, 0].numpy()


@pytest.mark.parametrize("source, shape", [
    ((16, 16), (64, 48)),   # up
    ((64, 48), (16, 16)),   # down
    ((7, 13), (11, 5)),     # odd, mixed
    ((1, 1), (9, 4)),       # one pixel up
    ((9, 4), (1, 1)),       # down to one pixel
    ((1, 9), (5, 9)),       # one axis unchanged
    ((256, 256), (480, 640)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resize_map_matches_torch(source, shape, dtype):
    rng = np.random.default_rng(sum(source) + sum(shape))
    amap = (rng.standard_normal(source) * 100).astype(dtype)
    ours = resize_map(amap, shape)
    ref = _torch_resize(amap, shape)
    assert ours.dtype == dtype and ours.shape == shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6 * np.abs(amap).max())


@settings(max_examples=60, deadline=None)
@given(st.tuples(st.integers(1, 50), st.integers(1, 50)),
       st.tuples(st.integers(1, 90), st.integers(1, 90)),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_resize_map_matches_torch_on_random_sizes(source, shape, dtype, seed):
    amap = np.random.default_rng(seed).random(source).astype(dtype)
    ours = resize_map(amap, shape)
    np.testing.assert_allclose(ours, _torch_resize(amap, shape), rtol=0,
                               atol=1e-6 * max(1.0, float(np.abs(amap).max())))


def test_walk_symlink_loop_in_gts_is_not_followed_twice(tmp_path: Path):
    rng = np.random.default_rng(10)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    maps, masks = _toy_class(preds, gts, "a", rng)
    try:
        (gts / "a" / "again").symlink_to(gts, target_is_directory=True)
    except OSError:
        pytest.skip("no symbolic links here")
    with pytest.warns(UserWarning, match="link back"):
        assert score_folders(preds, gts)["classes"]["a"] == score(maps, masks)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="permissions do not apply to root")
def test_unreadable_class_folder(tmp_path: Path):
    rng = np.random.default_rng(11)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    _toy_class(preds, gts, "a", rng)
    (preds / "a").chmod(0)
    try:
        assert "cannot read folder" in _cli_error(preds, gts)
    finally:
        (preds / "a").chmod(0o755)


def test_cli_resize_and_mask_threshold_flags(tmp_path: Path) -> None:
    """`adbench score --resize masks --mask-threshold T` gives what score_folders gives with
    the same arguments, and the JSON records the evaluation size."""
    import json

    from click.testing import CliRunner

    from adbench.cli import main

    rng = np.random.default_rng(3)
    preds, gts = tmp_path / "preds", tmp_path / "gts"
    (preds / "c").mkdir(parents=True)
    (gts / "c").mkdir(parents=True)
    for i in range(6):
        np.save(preds / "c" / f"{i}.npy", rng.random((16, 16)).astype(np.float32))
        if i < 2:
            continue  # normal images: no mask
        soft = np.zeros((32, 32), np.uint8)
        soft[4 * i:4 * i + 9, 3:20] = 200
        soft[4 * i + 9, 3:20] = 60  # an anti-aliased edge, below the threshold
        Image.fromarray(soft).save(gts / "c" / f"{i}.png")
    out = tmp_path / "result.json"
    result = CliRunner().invoke(main, ["score", str(preds), str(gts), "--resize", "masks",
                                       "--mask-threshold", "127", "--json", str(out)])
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["resize"] == "masks"
    expected = score_folders(preds, gts, resize="masks", mask_threshold=127)
    assert written["classes"] == json.loads(json.dumps(expected["classes"]))
    assert None not in written["mean"].values()
    refused = CliRunner().invoke(main, ["score", str(preds), str(gts)])
    assert refused.exit_code == 1 and "16x16" in refused.output and "32x32" in refused.output


def test_cli_max_memory_and_tmp(tmp_path: Path) -> None:
    """--max-memory and --tmp reach the scorer: the result is the unbounded one, and the
    temporary folder is left as it was found."""
    import json

    from click.testing import CliRunner

    from adbench.cli import main
    from adbench.toydata.maps import write_toy_score_folders

    preds, gts = write_toy_score_folders(tmp_path / "data", seed=5)
    spill = tmp_path / "spill"
    spill.mkdir()
    out = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["score", str(preds), str(gts), "--max-memory", "0.5",
                                       "--tmp", str(spill), "--json", str(out)])
    assert result.exit_code == 0, result.output
    expected = score_folders(preds, gts, max_memory=None)
    assert json.loads(out.read_text())["classes"] == json.loads(json.dumps(expected["classes"]))
    assert list(spill.iterdir()) == []
    missing = CliRunner().invoke(main, ["score", str(preds), str(gts), "--tmp",
                                        str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nowhere" in missing.output  # checked before any work
    assert "Traceback" not in missing.output
