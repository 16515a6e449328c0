"""gaussian_blur computes scipy.ndimage.gaussian_filter(sigma, truncate=4, mode='reflect')."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from baselines.smoothing import gaussian_blur

# includes maps smaller than the kernel radius (16 at sigma 4), where reflection wraps
SIZES = [(1, 1), (1, 7), (3, 5), (16, 17), (40, 9), (64, 64), (100, 37)]


def scipy_reference(maps: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([gaussian_filter(m, sigma=sigma, truncate=4.0, mode="reflect") for m in maps])


def float32_bound(maps: np.ndarray, sigma: float) -> float:
    """The largest error float32 blurring can make, whatever order the CPU's convolution
    kernel sums in: per pass, a sum of k = 2 int(4 sigma + 0.5) + 1 products with weights
    >= 0 that sum to 1 (each rounded to float32) is within (k + 1) u max|x| of the exact
    one (u = 2^-24); two passes."""
    taps = 2 * int(4.0 * sigma + 0.5) + 1
    return 2 * (taps + 1) * 2.0**-24 * float(np.abs(maps).max())


@pytest.mark.parametrize("shape", SIZES)
def test_float64_matches_scipy(shape: tuple[int, int]) -> None:
    maps = np.random.default_rng(sum(shape)).random((3, *shape))
    got = gaussian_blur(torch.from_numpy(maps), sigma=4.0).numpy()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, scipy_reference(maps, 4.0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5])
def test_other_sigmas_match_scipy(sigma: float) -> None:
    maps = np.random.default_rng(0).random((2, 20, 30))
    got = gaussian_blur(torch.from_numpy(maps), sigma=sigma).numpy()
    np.testing.assert_allclose(got, scipy_reference(maps, sigma), rtol=0, atol=1e-12)


def test_float32_matches_scipy_and_keeps_dtype() -> None:
    maps = np.random.default_rng(1).random((2, 64, 48)).astype(np.float32)
    got = gaussian_blur(torch.from_numpy(maps), sigma=4.0)
    assert got.dtype == torch.float32
    expected = scipy_reference(maps.astype(np.float64), 4.0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=float32_bound(maps, 4.0))


def test_maps_are_smoothed_independently() -> None:
    maps = torch.zeros(3, 20, 20, dtype=torch.float64)
    maps[1, 10, 10] = 1.0
    out = gaussian_blur(maps, sigma=4.0)
    assert float(out[0].abs().max()) == 0.0 and float(out[2].abs().max()) == 0.0
    assert float(out[1].sum()) == pytest.approx(1.0, abs=1e-12)  # reflection keeps mass


def test_autocast_does_not_lower_the_precision() -> None:
    maps = np.random.default_rng(2).random((2, 40, 40)).astype(np.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = gaussian_blur(torch.from_numpy(maps), sigma=4.0)
    assert got.dtype == torch.float32
    expected = scipy_reference(maps.astype(np.float64), 4.0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=float32_bound(maps, 4.0))
