"""Shared pytest fixtures: tiny generated datasets (never /work/shared or real data).

No torch import here: the metrics and cocoad tests must run without it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from adbench.toydata.mvtec import write_toy_mvtec


@pytest.fixture(autouse=True)
def _one_torch_thread() -> None:
    """Tests run torch on one thread: on a shared 2-core machine OpenMP's spinning
    threads make tiny models 10-30x slower. Nothing is imported if torch is not."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_mvtec_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MVTec-style root (classes tile and grid, 64 x 64, seed 0), written once per
    session; treat it as read-only. Per class: 16 train/good, 4 test/good, and 4 test
    images each of defects "blob" and "scratch" with ground_truth/<defect>/*_mask.png."""
    return write_toy_mvtec(tmp_path_factory.mktemp("toy_mvtec"), seed=0)


@pytest.fixture
def make_toy_mvtec(tmp_path: Path) -> Callable[..., Path]:
    """A factory writing a fresh MVTec-style root under tmp_path with custom arguments of
    `write_toy_mvtec` (e.g. `make_toy_mvtec(classes=("tile",), n_train=8)`)."""
    counter = iter(range(1000))

    def make(**kwargs: object) -> Path:
        return write_toy_mvtec(tmp_path / f"toy_mvtec_{next(counter)}", **kwargs)

    return make


def _mount_tmpfs(target: Path, options: str) -> bool:
    """Mount a tmpfs at `target` (needs root and a kernel that allows it); False if not."""
    import subprocess

    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                          capture_output=True, check=False)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    """A folder on a 256 KiB tmpfs (a disk that fills up); skipped where mounting is not
    allowed."""
    import subprocess

    target = tmp_path / "small_disk"
    if not _mount_tmpfs(target, "size=256k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield target
    subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """An empty folder no one can write to, even root (a read-only tmpfs); skipped where
    mounting is not allowed."""
    import subprocess

    target = tmp_path / "read_only"
    if not _mount_tmpfs(target, "ro,size=64k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield target
    subprocess.run(["umount", "-l", str(target)], check=False)
