"""MambaAD's scan orders: the Hilbert curve and the eight-direction table.

Checked against the published test vectors and sha256 prefixes of docs/baselines.md, against
a transcription of the definition with numpy's transpose / rot90 / reversal, and against the
MIT-licensed `numpy-hilbert-curve` package where it is installed.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from baselines.models.mambaad.scan_orders import direction_table, hilbert_order

PUBLISHED_SHA256_PREFIXES = {8: "ad2927069309e5af", 16: "4c42e87707bc73ae",
                             32: "ab3f9436d4b06503", 64: "e8b3e9d185089bd3"}


def table(size: int) -> np.ndarray:
    return direction_table(torch.as_tensor(hilbert_order(size)), size).numpy()


def test_published_test_vectors() -> None:
    assert hilbert_order(2).tolist() == [0, 2, 3, 1]
    assert hilbert_order(8)[:16].tolist() == [0, 8, 9, 1, 2, 3, 11, 10, 18, 19, 27, 26, 25,
                                              17, 16, 24]
    assert table(4)[:4].tolist() == [
        [0, 1, 5, 4, 8, 12, 13, 9, 10, 14, 15, 11, 7, 6, 2, 3],
        [0, 4, 5, 1, 2, 3, 7, 6, 10, 11, 15, 14, 13, 9, 8, 12],
        [3, 7, 6, 2, 1, 0, 4, 5, 9, 8, 12, 13, 14, 10, 11, 15],
        [3, 2, 6, 7, 11, 15, 14, 10, 9, 13, 12, 8, 4, 5, 1, 0],
    ]


@pytest.mark.parametrize("size", sorted(PUBLISHED_SHA256_PREFIXES))
def test_published_sha256_of_the_table(size: int) -> None:
    data = table(size).astype("<i8").tobytes()
    assert hashlib.sha256(data).hexdigest()[:16] == PUBLISHED_SHA256_PREFIXES[size]


@pytest.mark.parametrize("size", [1, 2, 4, 8, 16, 32, 64])
def test_table_transcribes_the_definition(size: int) -> None:
    positions = np.arange(size * size).reshape(size, size)
    curve = hilbert_order(size)
    arrangements = [positions, positions.T, np.rot90(positions), np.rot90(positions).T]
    expected = [a.flatten()[curve] for a in arrangements]
    expected += [row[::-1] for row in expected]
    got = table(size)
    assert got.dtype == np.int64 and got.shape == (8, size * size)
    np.testing.assert_array_equal(got, np.stack(expected))
    for row in got:  # every direction visits every position once
        assert sorted(row.tolist()) == list(range(size * size))


@pytest.mark.parametrize("size", [2, 4, 8, 16, 32, 64, 128])
def test_consecutive_curve_positions_are_grid_neighbours(size: int) -> None:
    rows, cols = np.divmod(hilbert_order(size), size)
    assert (np.abs(np.diff(rows)) + np.abs(np.diff(cols)) == 1).all()


@pytest.mark.parametrize("size", [2, 4, 8, 16, 32, 64, 128])
def test_same_curve_as_numpy_hilbert_curve(size: int) -> None:
    hilbert = pytest.importorskip("hilbert")
    a = hilbert.decode(np.arange(size * size), 2, size.bit_length() - 1)
    np.testing.assert_array_equal(hilbert_order(size), a[:, 0] + size * a[:, 1])


@pytest.mark.parametrize("size", [0, 3, 6, 12])
def test_grid_must_be_a_power_of_two(size: int) -> None:
    with pytest.raises(ValueError, match="power-of-two grid"):
        hilbert_order(size)
