"""Fault injection for `cocoad build`: malformed annotations, signals, full disks.

Every bad value must give a one-line error naming the file and the annotation or image
id, with nothing written; a valid but unusual file must build the masks pycocotools
makes; Ctrl-C and SIGKILL must end the build promptly and leave no worker process and no
half-written fold; a full disk or an unwritable --out must be a one-line error.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cocoad_helpers import run, snapshot
from PIL import Image
from pycocotools import mask as mask_utils

from cocoad.categories import coco_category_dicts
from cocoad.interrupts import sigint_deferred

REPO = Path(__file__).resolve().parents[1]
SIGNAL_WAIT = 30.0  # seconds; a prompt exit takes ~1 s, the rest is slack for a loaded CI
# Exit statuses after a Ctrl-C: 130 (cocoad's own), or death by SIGINT, which a shell also
# shows as 130: CPython re-raises SIGINT at exit under `python -m` when the interrupt hit a
# string exec (dataclass and namedtuple creation while modules load), and a Ctrl-C after
# the build has finished, while the interpreter shuts down, has the default action.
INTERRUPTED = (130, -signal.SIGINT)


def coco_doc(images: list[dict[str, Any]], annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"images": images, "annotations": annotations, "categories": coco_category_dicts()}


def base_doc() -> dict[str, Any]:
    """Two 40 x 60 images; image 1 anomalous in fold 0 (person), image 2 normal (id 90)."""
    images = [{"id": i, "file_name": f"{i:03d}.jpg", "height": 40, "width": 60} for i in (1, 2)]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [5, 5, 30, 20],
         "segmentation": [[5, 5, 35, 5, 35, 25, 5, 25]]},
        {"id": 2, "image_id": 2, "category_id": 90, "iscrowd": 0,
         "segmentation": [[1, 1, 9, 1, 9, 9]]},
    ]
    return coco_doc(images, annotations)


def write_root(root: Path, val: Any, train: Any | None = None) -> Path:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, doc in (("train", base_doc() if train is None else train), ("val", val)):
        data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        (root / "annotations" / f"instances_{split}2017.json").write_bytes(data)
    return root


def error_line(output: str) -> str:
    """The one error line of a CLI run's output (progress bars aside), '' when none."""
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) <= 1 and output.count("Error") == len(errors), output
    return errors[0] if errors else ""


def entry_change(list_key: str, entry_id: int, **fields: Any
                 ) -> Callable[[dict[str, Any]], None]:
    """A change to the doc's `list_key` entry with id `entry_id`: set `fields`, deleting
    those given as DROP."""
    def change(doc: dict[str, Any]) -> None:
        entry = next(e for e in doc[list_key] if e["id"] == entry_id)
        for key, value in fields.items():
            if value is DROP:
                del entry[key]
            else:
                entry[key] = value
    return change


annotation_change = partial(entry_change, "annotations")
image_change = partial(entry_change, "images")


DROP = object()
SQUARE = [5, 5, 35, 5, 35, 25, 5, 25]
RLE_40x60 = {"size": [40, 60], "counts": [100, 20, 2280]}

# name -> (change to the val file, what the one-line error must say)
VAL_FAULTS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "annotation id missing": (annotation_change(2, id=DROP), "annotation at position 1 has no "
                              "integer id"),
    "annotation id a string": (annotation_change(2, id="2"), "position 1 has no integer id"),
    "annotation id true": (annotation_change(2, id=True), "position 1 has no integer id"),
    "annotation id twice": (annotation_change(2, id=1), "annotation id 1 appears twice"),
    "image_id a string": (annotation_change(1, image_id="1"),
                          "annotation 1 refers to image id '1', which is not an integer"),
    "image_id a float": (annotation_change(1, image_id=1.0), "image id 1.0, which is not"),
    "image_id true": (annotation_change(1, image_id=True), "image id True, which is not"),
    "image_id unknown": (annotation_change(1, image_id=99), "annotation 1 refers to unknown "
                         "image 99"),
    "image_id missing": (annotation_change(1, image_id=DROP), "annotation 1 has no image_id"),
    "category unknown": (annotation_change(2, category_id=12), "annotation 2 refers to unknown "
                         "category 12"),
    "category a string": (annotation_change(2, category_id="1"), "category id '1', which"),
    "category null": (annotation_change(2, category_id=None), "category id None, which"),
    "category missing": (annotation_change(2, category_id=DROP), "annotation 2 has no "
                         "image_id/category_id"),
    "segmentation missing": (annotation_change(1, segmentation=DROP),
                             "annotation 1 (image 1): segmentation is neither polygons nor RLE"),
    "segmentation null": (annotation_change(1, segmentation=None), "neither polygons nor RLE"),
    "segmentation a number": (annotation_change(1, segmentation=5), "neither polygons nor RLE"),
    "segmentation a string": (annotation_change(1, segmentation="5 5"), "neither polygons nor"),
    "flat polygon": (annotation_change(1, segmentation=SQUARE), "neither polygons nor RLE"),
    "list of RLE": (annotation_change(1, segmentation=[RLE_40x60]), "neither polygons nor RLE"),
    "RLE without counts": (annotation_change(1, segmentation={"size": [40, 60]}),
                           "neither polygons nor RLE"),
    "NaN coordinate": (annotation_change(1, segmentation=[[5, 5, 35, float("nan"), 35, 25]]),
                       "annotation 1 (image 1): polygon 0 has a coordinate that is not finite"),
    "infinite coordinate": (annotation_change(1, segmentation=[[5, 5, float("inf"), 5, 3, 9]]),
                            "not finite"),
    "huge vertex": (annotation_change(1, segmentation=[[5, 5, 1e9, 5, 35, 25]]),
                    "vertex (1e+09, 5) more than one image size outside the 60 x 40 image"),
    "negative vertex far out": (annotation_change(1, segmentation=[[5, 5, -61, 5, 35, 25]]),
                                "vertex (-61, 5) more than one image size outside"),
    "integer beyond float range": (annotation_change(1, segmentation=[[5, 5, 10**400, 5, 3, 9]]),
                                   "a value beyond the range of a float"),
    "odd polygon": (annotation_change(1, segmentation=[[5, 5, 35, 5, 35, 25, 5]]),
                    "polygon 0 has 7 values (an odd number)"),
    "two-point polygon": (annotation_change(1, segmentation=[[5, 5, 35, 25]]),
                          "polygon 0 has 4 values (2 points, fewer than 3)"),
    "empty polygon": (annotation_change(1, segmentation=[SQUARE, []]),
                      "polygon 1 has 0 values"),
    "string coordinate": (annotation_change(1, segmentation=[[5, 5, "35", 5, 35, 25]]),
                          "polygon 0 has a value that is not a number"),
    "boolean coordinate": (annotation_change(1, segmentation=[[5, 5, True, 5, 35, 25]]),
                           "a value that is not a number"),
    "null coordinate": (annotation_change(1, segmentation=[[5, 5, None, 5, 35, 25]]),
                        "a value that is not a number"),
    "endless outline": (annotation_change(1, segmentation=[[0, 0, 60, 40] * 60 + [0, 40]]),
                        "polygon 0's outline is 7240 pixels long, more than 50 x (height + "
                        "width)"),
    "RLE of the wrong size": (annotation_change(1, segmentation={"size": [40, 61],
                                                                 "counts": [2440]}),
                              "RLE size [40, 61] is not its image's [height, width] [40, 60]"),
    "RLE size of floats": (annotation_change(1, segmentation={"size": [40.0, 60.0],
                                                              "counts": [2400]}), "RLE size"),
    "RLE counts short": (annotation_change(1, segmentation={"size": [40, 60],
                                                            "counts": [100, 20, 2279]}),
                         "RLE counts sum to 2399, not height x width = 2400"),
    "RLE counts long": (annotation_change(1, segmentation={"size": [40, 60],
                                                           "counts": [100, 20, 2281]}),
                        "sum to 2401"),
    "RLE negative count": (annotation_change(1, segmentation={"size": [40, 60],
                                                              "counts": [-20, 140, 2280]}),
                           "RLE counts are not all non-negative integers"),
    "RLE float count": (annotation_change(1, segmentation={"size": [40, 60],
                                                           "counts": [100.0, 20, 2280]}),
                        "not all non-negative integers"),
    "RLE counts an object": (annotation_change(1, segmentation={"size": [40, 60],
                                                                "counts": {"a": 1}}),
                             "neither polygons nor RLE"),
    "compressed RLE cut short": (annotation_change(1, segmentation={"size": [40, 60],
                                                                    "counts": "Q"}),
                                 "compressed RLE counts are malformed: the string ends inside"),
    "compressed RLE bad character": (annotation_change(1, segmentation={"size": [40, 60],
                                                                        "counts": "0~"}),
                                     "character '~' at position 1 is not an RLE character"),
    "compressed RLE negative count": (annotation_change(1, segmentation={"size": [40, 60],
                                                                         "counts": "0O"}),
                                      "count 1 decodes to -1"),
    "compressed RLE wrong sum": (annotation_change(1, segmentation={"size": [40, 60],
                                                                    "counts": "0g1"}),
                                 "RLE counts sum to"),
    "image height 0": (image_change(1, height=0), "image 1: height 0 is not a positive integer"),
    "image width negative": (image_change(2, width=-60), "image 2: width -60 is not a positive"),
    "image height a float": (image_change(1, height=40.5), "height 40.5 is not a positive"),
    "image height a string": (image_change(1, height="40"), "height '40' is not a positive"),
    "image height true": (image_change(1, height=True), "height True is not a positive"),
    "image height missing": (image_change(1, height=DROP), "height None is not a positive"),
    "image side huge": (image_change(1, width=10**12), "width 1000000000000 is above the limit "
                        "of 16384 pixels"),
    "image area huge": (image_change(1, height=16000, width=16000),
                        "16000 x 16000 pixels are above the limit of 67,108,864"),
    "image file_name empty": (image_change(1, file_name=""), "file_name '' is not a non-empty"),
    "image file_name missing": (image_change(1, file_name=DROP), "file_name None is not"),
    "image id missing": (image_change(1, id=DROP), "image entry at position 0 has no integer id"),
    "image id a string": (image_change(1, id="1"), "image entry at position 0 has no integer"),
    "image id twice": (image_change(2, id=1), "image id 1 appears twice"),
    "mask outside the image": (annotation_change(1, segmentation=[[-50, -30, -10, -30, -10, -5]]),
                               "image 1: its anomalous annotations cover no pixel with --masks "
                               "pycocotools"),
    "mask of an empty polygon list": (annotation_change(1, segmentation=[]), "image 1: its "
                                      "anomalous annotations cover no pixel"),
    "mask of a line": (annotation_change(1, segmentation=[[5.5, 5.5, 30.5, 5.5, 18.5, 5.5]]),
                       "cover no pixel"),
    "mask name unusable": (image_change(1, file_name="/"), "image 1: file_name '/' gives "
                           "no usable mask file name"),
    "mask name too long": (image_change(1, file_name="x" * 300 + ".jpg"),
                           "gives no usable mask file name"),
}


@pytest.mark.parametrize("case", sorted(VAL_FAULTS))
def test_bad_val_value_is_a_one_line_error_naming_it(tmp_path: Path, case: str):
    change, message = VAL_FAULTS[case]
    doc = base_doc()
    change(doc)
    root = write_root(tmp_path / "coco", doc)
    before = snapshot(tmp_path)
    code, output = run("build", "--fold", "0", "--coco-root", str(root), "--workers", "1")
    assert code == 1, output
    error = error_line(output)
    assert "instances_val2017.json: " in error and message in error, output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty", b"", "not valid JSON"),
    ("not UTF-8", b"\xff\xfe\xfa{", "not valid JSON"),
    ("truncated", json.dumps(base_doc()).encode()[:-40], "not valid JSON"),
    ("a list", b"[]", 'not a COCO instances file (no "categories" list)'),
    ("images an object", json.dumps({**base_doc(), "images": {}}).encode(), 'no "images" list'),
    ("annotations missing", json.dumps({"images": [], "categories": coco_category_dicts()}
                                       ).encode(), 'no "annotations" list'),
    ("annotation a number", json.dumps({**base_doc(), "annotations": [7]}).encode(),
     "annotation at position 0 has no image_id/category_id: 7"),
    ("image a string", json.dumps({**base_doc(), "images": ["a.jpg"]}).encode(),
     "image entry at position 0 has no integer id: 'a.jpg'"),
])
def test_a_file_that_is_not_coco_is_a_one_line_error(tmp_path: Path, name: str, data: bytes,
                                                     message: str):
    root = write_root(tmp_path / "coco", data)
    code, output = run("build", "--fold", "0", "--coco-root", str(root), "--out",
                       str(tmp_path / "out"))
    assert code == 1 and output.count("\n") == 1 and message in output, output
    assert not (tmp_path / "out").exists()


def test_train_images_are_checked_but_train_segmentations_never_used(tmp_path: Path):
    bad_image = base_doc()
    image_change(2, height=-1)(bad_image)
    root = write_root(tmp_path / "a", base_doc(), train=bad_image)
    code, output = run("build", "--fold", "0", "--coco-root", str(root))
    assert code == 1 and "instances_train2017.json: image 2: height -1" in output
    unused = base_doc()
    annotation_change(2, segmentation=None, id="x")(unused)
    annotation_change(1, segmentation=[[float("nan"), 5, 1e30]], id=DROP)(unused)
    root = write_root(tmp_path / "b", base_doc(), train=unused)
    code, output = run("build", "--fold", "3", "--coco-root", str(root))
    assert code == 0, output
    meta = json.loads((root / "meta_20_3.json").read_text())
    assert [e["img_path"] for e in meta["train"]["coco"]] == ["train2017/001.jpg"]


def reference_mask(doc: dict[str, Any], image_id: int, anomalous: set[int]) -> np.ndarray:
    """pycocotools' COCO.annToMask union, written out with the mask API."""
    image = next(i for i in doc["images"] if i["id"] == image_id)
    height, width = image["height"], image["width"]
    union = np.zeros((height, width), dtype=np.uint8)
    for ann in doc["annotations"]:
        if ann["image_id"] != image_id or ann["category_id"] not in anomalous:
            continue
        segm = ann["segmentation"]
        if isinstance(segm, list):
            if not segm:
                continue
            rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
        elif isinstance(segm["counts"], list):
            rle = mask_utils.frPyObjects(segm, height, width)
        else:
            rle = {"size": segm["size"], "counts": segm["counts"].encode()}
        union |= mask_utils.decode(rle)
    return union * 255


def test_unusual_but_valid_annotations_build_pycocotools_masks(tmp_path: Path):
    """No bbox/area/iscrowd, vertices outside the image (within the margin), compressed and
    uncompressed RLE, multi-part polygons, a UTF-16 file: all build, masks as pycocotools."""
    doc = base_doc()
    counts = mask_utils.encode(np.asfortranarray(
        (np.random.default_rng(0).random((40, 60)) < 0.3).astype(np.uint8)))["counts"]
    doc["annotations"] = [
        {"id": 1, "image_id": 1, "category_id": 1,
         "segmentation": [[-20, -10, 70, 20, 10, 55]]},
        {"id": 7, "image_id": 1, "category_id": 2,
         "segmentation": [SQUARE, [40, 30, 59, 30, 50, 39]]},
        {"id": 3, "image_id": 2, "category_id": 3, "segmentation": {"size": [40, 60],
                                                                    "counts": counts.decode()}},
        {"id": 4, "image_id": 2, "category_id": 90, "segmentation": RLE_40x60},
        {"id": 5, "image_id": 2, "category_id": 4, "segmentation": {"size": [40, 60],
                                                                    "counts": [0, 2400]}},
    ]
    data = json.dumps(doc).encode("utf-16")
    root = write_root(tmp_path / "coco", data)
    code, output = run("build", "--fold", "0", "--coco-root", str(root), "--workers", "2")
    assert code == 0, output
    for image_id in (1, 2):
        png = np.asarray(Image.open(root / "val2017_mask_ad_20_0" / f"{image_id:03d}.png"))
        np.testing.assert_array_equal(png, reference_mask(doc, image_id, {1, 2, 3, 4}))


def test_an_rle_mask_is_the_same_on_every_build(tmp_path: Path):
    """RLE counts that cover the image exactly: the same mask bytes build after build."""
    doc = base_doc()
    annotation_change(1, segmentation=RLE_40x60)(doc)
    root = write_root(tmp_path / "coco", doc)
    digests = set()
    for _ in range(3):
        assert run("build", "--fold", "0", "--coco-root", str(root), "--force")[0] == 0
        digests.add((root / "val2017_mask_ad_20_0" / "001.png").read_bytes())
    assert len(digests) == 1
    np.testing.assert_array_equal(np.asarray(Image.open(root / "val2017_mask_ad_20_0" /
                                                        "001.png")),
                                  reference_mask(doc, 1, {1}))


def test_masks_ader_without_opencv_names_the_extra(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    root = write_root(tmp_path / "coco", base_doc())
    before = snapshot(tmp_path)
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 -> ImportError
    code, output = run("build", "--fold", "0", "--coco-root", str(root), "--masks", "ader")
    assert code == 1 and output.count("\n") == 1
    assert "--masks ader needs OpenCV: pip install 'adbench[ader]'" in output
    assert snapshot(tmp_path) == before


# --- writing: full disk, unwritable --out --------------------------------------------------

def test_full_disk_while_writing_leaves_the_fold_as_it_was(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    """ENOSPC simulated on the second staged file: the earlier build stays intact."""
    root = write_root(tmp_path / "coco", base_doc())
    assert run("build", "--fold", "0", "--coco-root", str(root))[0] == 0
    before = snapshot(tmp_path)
    real_write = Path.write_bytes
    calls = []

    def full_disk(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 2:
            real_write(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    code, output = run("build", "--fold", "0", "--coco-root", str(root), "--force")
    monkeypatch.setattr(Path, "write_bytes", real_write)
    assert code == 1
    error = error_line(output)
    assert "No space left on device" in error and "outputs were left as they were" in error
    assert snapshot(tmp_path) == before
    assert run("verify", "--fold", "0", "--coco-root", str(root))[0] == 0


def noisy_masks_doc(count: int, side: int, seed: int = 1) -> dict[str, Any]:
    """`count` anomalous val images whose masks are random noise (PNGs that barely compress)."""
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for i in range(1, count + 1):
        images.append({"id": i, "file_name": f"{i:03d}.jpg", "height": side, "width": side})
        runs = rng.integers(1, 4, side * side // 2)
        runs = runs[: int(np.searchsorted(np.cumsum(runs), side * side))].tolist()
        runs.append(side * side - sum(runs))
        annotations.append({"id": i, "image_id": i, "category_id": 1,
                            "segmentation": {"size": [side, side], "counts": runs}})
    return coco_doc(images, annotations)


def in_private_mounts(script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` (sh) in its own user and mount namespace, where it may mount tmpfs."""
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1) on this platform")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    if probe.returncode:
        pytest.skip("this machine does not allow mounting a tmpfs in a user namespace")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                          env=env, capture_output=True, text=True, timeout=120)


def test_full_tmpfs_is_a_one_line_error_and_nothing_is_left(tmp_path: Path):
    root = write_root(tmp_path / "coco", noisy_masks_doc(20, 160))
    out = tmp_path / "small"
    out.mkdir()
    done = in_private_mounts(
        f"mount -t tmpfs -o size=64k tmpfs {out} && "
        f"{sys.executable} -m cocoad build --fold 0 --coco-root {root} --out {out} "
        f"--workers 1; echo status=$?; ls -A {out}")
    lines = done.stdout.splitlines()
    assert lines == ["status=1"], done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], done.stderr
    assert "outputs were left as they were" in errors[0] and "Traceback" not in done.stderr


def test_read_only_out_is_a_one_line_error(tmp_path: Path):
    root = write_root(tmp_path / "coco", base_doc())
    out = tmp_path / "ro"
    out.mkdir()
    done = in_private_mounts(
        f"mount -t tmpfs -o ro,size=64k tmpfs {out} && "
        f"{sys.executable} -m cocoad build --fold 0 --coco-root {root} --out {out}/sub; "
        "echo status=$?")
    assert done.stdout.splitlines() == ["status=1"], done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Read-only file system" in done.stderr
    assert "output folder is not writable" in done.stderr


def test_out_with_a_name_too_long_is_a_one_line_error(tmp_path: Path):
    root = write_root(tmp_path / "coco", base_doc())
    before = snapshot(tmp_path)
    code, output = run("build", "--fold", "0", "--coco-root", str(root), "--out",
                       str(tmp_path / ("x" * 300) / "out"))
    assert code == 1 and output.count("\n") == 1 and "File name too long" in output
    assert snapshot(tmp_path) == before


# --- signals: Ctrl-C, SIGKILL -------------------------------------------------------------

def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry.name)] = (int(fields[1]), fields[0])
    return table


def descendants(pid: int) -> set[int]:
    table = process_table()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, (ppid, _) in table.items() if ppid == parent]
        found.update(children)
        todo += children
    return found


def running(pids: set[int]) -> set[int]:
    """Those of `pids` that still run (zombies, dead but not yet reaped, do not)."""
    table = process_table()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}


def wait_until(condition: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists() or os.name != "posix",
                                reason="needs POSIX signals and /proc to watch the workers")


def start_build(root: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    """`cocoad build --fold 0 --workers 2` in its own session (process group), as a shell
    runs a job."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "cocoad", "build", "--fold", "0",
                             "--coco-root", str(root), "--out", str(out), "--workers", "2",
                             *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=default_sigint)


def default_sigint() -> None:
    """In the child: SIGINT's default action, even where the test runner ignores it (a
    background job of a non-interactive shell does), so that Python turns it into
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def python_start_seconds() -> float:
    """How long `python -m cocoad --help` takes here: a Ctrl-C before the interpreter has
    started makes Python itself print a traceback, so the random moments start later."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "cocoad", "--help"], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    return time.monotonic() - started


def slow_masks_doc(count: int, side: int) -> dict[str, Any]:
    """`count` anomalous val images of side x side pixels, one big triangle each."""
    images = [{"id": i, "file_name": f"{i:03d}.jpg", "height": side, "width": side}
              for i in range(1, count + 1)]
    annotations = [{"id": i, "image_id": i, "category_id": 1,
                    "segmentation": [[1, 1, side - 2, 3, side // 2, side - 2]]}
                   for i in range(1, count + 1)]
    return coco_doc(images, annotations)


@needs_proc
def test_ctrl_c_while_rasterising_ends_promptly_without_workers(tmp_path: Path):
    root = write_root(tmp_path / "coco", slow_masks_doc(200, 3000))
    out = tmp_path / "out"
    build = start_build(root, out)
    workers: set[int] = set()
    try:
        assert wait_until(lambda: len(descendants(build.pid)) >= 2, SIGNAL_WAIT), \
            "the workers never started"
        workers = descendants(build.pid)
        os.killpg(build.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        started = time.monotonic()
        _, stderr = build.communicate(timeout=SIGNAL_WAIT)
        seconds = time.monotonic() - started
    finally:
        kill_all(build, workers)
    assert build.returncode in INTERRUPTED, stderr
    assert stderr.strip().splitlines()[-1].startswith("cocoad build: interrupted"), stderr
    assert "Traceback" not in stderr
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    assert wait_until(lambda: not running(workers), 5), "a worker outlived the build"
    assert not out.exists() or not list(out.iterdir())


def kill_all(build: subprocess.Popen[str], workers: set[int]) -> None:
    """Test cleanup: whatever still runs of the build and its workers is killed."""
    for pid in running(workers | ({build.pid} if build.poll() is None else set())):
        os.kill(pid, signal.SIGKILL)
    if build.stdout and not build.stdout.closed:
        build.communicate(timeout=SIGNAL_WAIT)
    build.wait(timeout=SIGNAL_WAIT)


@needs_proc
def test_sigkill_of_the_build_takes_its_workers_with_it(tmp_path: Path):
    root = write_root(tmp_path / "coco", slow_masks_doc(200, 3000))
    build = start_build(root, tmp_path / "out")
    workers: set[int] = set()
    try:
        assert wait_until(lambda: len(descendants(build.pid)) >= 2, SIGNAL_WAIT)
        workers = descendants(build.pid)
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=SIGNAL_WAIT)
        assert wait_until(lambda: not running(workers), 10), "workers outlived the build"
    finally:
        kill_all(build, workers)


@needs_proc
def test_workers_ignore_ctrl_c_the_build_decides(tmp_path: Path):
    """SIGINT sent to the workers alone changes nothing: the build completes."""
    root = write_root(tmp_path / "coco", slow_masks_doc(40, 2000))
    out = tmp_path / "out"
    build = start_build(root, out)
    workers: set[int] = set()
    try:
        assert wait_until(lambda: len(descendants(build.pid)) >= 2, SIGNAL_WAIT)
        workers = descendants(build.pid)
        for pid in workers:
            os.kill(pid, signal.SIGINT)
        _, stderr = build.communicate(timeout=120)
    finally:
        kill_all(build, workers)
    assert build.returncode == 0 and "Traceback" not in stderr, stderr
    assert run("verify", "--fold", "0", "--out", str(out))[0] == 0


@needs_proc
def test_ctrl_c_at_any_moment_leaves_each_fold_complete_or_as_it_was(tmp_path: Path):
    """Ctrl-C at random moments of a rebuild (parsing, rasterising, writing): every time the
    build stops promptly, no worker survives, and the fold is the old one or the new one."""
    root = write_root(tmp_path / "coco", noisy_masks_doc(300, 64, seed=1))
    out = tmp_path / "out"
    assert run("build", "--fold", "0", "--coco-root", str(root), "--out", str(out))[0] == 0
    write_root(root, noisy_masks_doc(300, 64, seed=2))  # the rebuilds make other masks
    shas = {json.loads((out / "manifest_20_0.json").read_text())["inputs"][
        "val_annotations_sha256"]}
    started = time.monotonic()
    assert run("build", "--fold", "0", "--coco-root", str(root), "--out",
               str(tmp_path / "timing"))[0] == 0
    duration = time.monotonic() - started
    shas.add(json.loads((tmp_path / "timing" / "manifest_20_0.json").read_text())["inputs"][
        "val_annotations_sha256"])
    startup = python_start_seconds()
    rng = random.Random(0)
    codes = []
    for trial in range(8):
        build = start_build(root, out, "--force")
        time.sleep(startup + duration * (trial + rng.random()) / 8)
        workers = descendants(build.pid)
        os.killpg(build.pid, signal.SIGINT)
        try:
            _, stderr = build.communicate(timeout=SIGNAL_WAIT)
        finally:
            kill_all(build, workers)
        assert build.returncode in (0, *INTERRUPTED) and "Traceback" not in stderr, stderr
        assert wait_until(lambda: not running(workers), 5)  # noqa: B023
        assert {p.name for p in out.iterdir()} == {"meta_20_0.json", "manifest_20_0.json",
                                                     "val2017_mask_ad_20_0"}
        manifest = json.loads((out / "manifest_20_0.json").read_text())
        assert manifest["inputs"]["val_annotations_sha256"] in shas  # the old fold or the new
        assert run("verify", "--fold", "0", "--out", str(out))[0] == 0
        codes.append(build.returncode)
    assert set(codes) & set(INTERRUPTED)


def test_sigint_inside_a_deferred_block_arrives_after_it():
    before = signal.getsignal(signal.SIGINT)
    reached_end = False
    with pytest.raises(KeyboardInterrupt), sigint_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        reached_end = True
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is before
    with sigint_deferred():  # nothing pending: the block ends normally
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_while_the_staging_folder_is_removed_still_removes_it(tmp_path: Path,
                                                                       monkeypatch):
    """A Ctrl-C that lands while a finished build removes its staging folder (a window of
    microseconds, wider when a loaded machine preempts the build there) is raised only
    once the folder is gone. Made deterministic: the signal arrives as the removal starts."""
    from cocoad import output
    from cocoad.layout import FoldOutputs

    real_rmtree = shutil.rmtree
    removals = []

    def interrupted_rmtree(path, *args, **kwargs):
        removals.append(Path(path))
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, unless the signal is deferred
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(output.shutil, "rmtree", interrupted_rmtree)
    outputs = FoldOutputs(tmp_path, 20, 0)
    with pytest.raises(KeyboardInterrupt):
        output.write_fold_outputs(outputs, {"1.png": b"png"}, b"{}", b"{}")
    assert removals == [output.staging_folder(outputs, os.getpid())]
    assert {p.name for p in tmp_path.iterdir()} == {"meta_20_0.json", "manifest_20_0.json",
                                                     "val2017_mask_ad_20_0"}


@needs_proc
def test_a_worker_without_prctl_still_watches_its_parent(tmp_path: Path):
    """The watcher thread used where PR_SET_PDEATHSIG does not exist."""
    code = ("import os, sys, time, multiprocessing as mp\n"
            "from cocoad.workers import watch_parent\n"
            "def child(parent):\n"
            "    watch_parent(parent)\n"
            "if __name__ == '__main__':\n"
            "    p = mp.get_context('fork').Process(target=child, args=(os.getpid(),))\n"
            "    p.start(); print(p.pid, flush=True); time.sleep(60)\n")
    script = tmp_path / "parent.py"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        assert running({child})
        parent.kill()
        parent.wait(timeout=SIGNAL_WAIT)
        assert wait_until(lambda: not running({child}), 5)
    finally:
        parent.kill()
        parent.communicate()
