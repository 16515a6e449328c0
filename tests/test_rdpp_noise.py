"""RD++'s noise patches: the fractal OpenSimplex texture against a scalar transcription of
its formula, crops against fresh evaluations, and the patches' placement and statistics.

The reference for simplex3 is the `opensimplex` package's scalar `noise3` (Kurt
Spencer's 3-D OpenSimplex, output / 103); the fractal sum over octaves is written out in
the test. The patches are checked through their observable effect: with a texture of
ones the changed pixels are exactly the patch rectangle, which must lie where the
specification draws it; the same torch seed then reproduces the rectangle with the real
texture, whose content must be the texture's top-left crop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from opensimplex import OpenSimplex

from baselines.models.rdpp.noise import (
    add_noise_patches,
    fractal_simplex,
    patch_sides,
    texture_for,
)
from baselines.normalisation import IMAGENET_MEAN, IMAGENET_STD

STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
SCALE = 0.2 / STD


def fractal_by_formula(seed: int, channels: int, height: int, width: int) -> np.ndarray:
    """N[z, y, x] = sum_{o=0..5} 0.6^o * simplex3(x / f_o, y / f_o, z / f_o), f_o = 32 / 2^o,
    one scalar evaluation at a time."""
    simplex = OpenSimplex(seed)
    out = np.zeros((channels, height, width))
    for z in range(channels):
        for y in range(height):
            for x in range(width):
                out[z, y, x] = sum(0.6**o * simplex.noise3(x / (32 / 2**o), y / (32 / 2**o),
                                                           z / (32 / 2**o)) for o in range(6))
    return out


def test_texture_is_the_fractal_formula() -> None:
    got = fractal_simplex(7, 3, 5, 9)  # height != width: catches swapped axes
    np.testing.assert_allclose(got, fractal_by_formula(7, 3, 5, 9), rtol=1e-12, atol=1e-15)
    assert np.abs(got).max() > 0.05  # not a degenerate all-zero texture
    assert np.abs(got).max() <= sum(0.6**o for o in range(6))


@pytest.mark.parametrize(("height", "width"), [(10, 10), (31, 10), (17, 29)])
def test_crop_equals_a_fresh_evaluation_at_the_crop_size(height: int, width: int) -> None:
    texture = fractal_simplex(12345, 3, 31, 31)
    fresh = fractal_by_formula(12345, 3, height, width)
    np.testing.assert_allclose(texture[:, :height, :width], fresh, rtol=1e-12, atol=1e-15)


def test_seed_chooses_the_texture() -> None:
    a, b = fractal_simplex(1, 3, 8, 8), fractal_simplex(2, 3, 8, 8)
    assert np.array_equal(a, fractal_simplex(1, 3, 8, 8))
    assert np.abs(a - b).max() > 0.05


def test_texture_size_and_patch_sides_per_image_size() -> None:
    assert patch_sides(256) == (10, 32)  # ADer's [10, 32) at 256
    assert patch_sides(128) == (5, 16)
    assert patch_sides(64) == (3, 8)
    texture = texture_for(64, 3)
    assert texture.dtype == torch.float32 and texture.shape == (3, 7, 7)
    np.testing.assert_allclose(texture.numpy(), fractal_by_formula(3, 3, 7, 7), rtol=1e-6,
                               atol=1e-7)


def rectangles(changed: torch.Tensor) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of each image's changed pixels, checked to be a filled
    rectangle. `changed` is (B, S, S) bool."""
    found = []
    for mask in changed:
        rows = torch.nonzero(mask.any(1)).flatten()
        cols = torch.nonzero(mask.any(0)).flatten()
        top, left = int(rows[0]), int(cols[0])
        height, width = int(rows[-1]) - top + 1, int(cols[-1]) - left + 1
        assert mask.sum() == height * width
        assert mask[top:top + height, left:left + width].all()
        found.append((top, left, height, width))
    return found


@settings(max_examples=25, deadline=None)
@given(size=st.sampled_from([32, 64, 96, 128, 256]), batch=st.integers(1, 5),
       seed=st.integers(0, 2**31 - 1))
def test_each_image_gets_one_patch_where_the_spec_draws_it(size: int, batch: int,
                                                           seed: int) -> None:
    low, high = patch_sides(size)
    images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    marked = add_noise_patches(images, torch.ones(3, high - 1, high - 1), low, SCALE)
    changed = (marked != images).any(1)
    torch.manual_seed(seed)
    texture = texture_for(size, seed)
    noisy = add_noise_patches(images, texture, low, SCALE)
    for b, (top, left, height, width) in enumerate(rectangles(changed)):
        assert low <= height < high and low <= width < high
        assert top >= 1 and top + height <= size - 1  # r in [1, S - h)
        assert left >= 1 and left + width <= size - 1
        expected = images[b].clone()
        expected[:, top:top + height, left:left + width] += SCALE[0] * texture[:, :height, :width]
        torch.testing.assert_close(noisy[b], expected, rtol=0, atol=1e-6)


def test_adding_to_normalised_images_equals_adding_before_normalisation() -> None:
    raw = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    low, high = patch_sides(64)
    texture = texture_for(64, 11)
    torch.manual_seed(5)
    marked = add_noise_patches(raw, torch.ones(3, high - 1, high - 1), low, SCALE)
    torch.manual_seed(5)
    ours = add_noise_patches((raw - MEAN) / STD, texture, low, SCALE)
    for b, (top, left, height, width) in enumerate(rectangles((marked != raw).any(1))):
        noisy_raw = raw[b].clone()  # ADer: + 0.2 * N on the [0, 1] image, no clipping
        noisy_raw[:, top:top + height, left:left + width] += 0.2 * texture[:, :height, :width]
        torch.testing.assert_close(ours[b], (noisy_raw - MEAN[0]) / STD[0], rtol=0, atol=1e-5)


def test_sides_and_positions_are_uniform_over_their_ranges() -> None:
    size, batch = 64, 512
    low, high = patch_sides(size)
    ones = torch.ones(3, high - 1, high - 1)
    torch.manual_seed(0)
    found = []
    for _ in range(4):
        images = torch.zeros(batch, 3, size, size)
        found += rectangles((add_noise_patches(images, ones, low, SCALE) != 0).any(1))
    tops, lefts, heights, widths = (np.array(v) for v in zip(*found, strict=True))
    for sides in (heights, widths):
        counts = np.bincount(sides - low, minlength=high - low)
        assert len(counts) == high - low
        expected = len(found) / (high - low)
        assert np.all(np.abs(counts - expected) < 0.25 * expected), counts
    assert tops.min() == lefts.min() == 1
    assert (tops + heights).max() == (lefts + widths).max() == size - 1
    # given h, the top row is uniform on [1, S - h): its mean is (S - h) / 2
    for h in range(low, high):
        chosen = tops[heights == h]
        assert abs(chosen.mean() - (size - h) / 2) < 4 * (size / np.sqrt(12 * len(chosen)))


def test_patches_follow_torch_seed() -> None:
    images = torch.zeros(3, 3, 64, 64)
    texture = texture_for(64, 1)
    torch.manual_seed(3)
    a = add_noise_patches(images, texture, 3, SCALE)
    torch.manual_seed(3)
    b = add_noise_patches(images, texture, 3, SCALE)
    c = add_noise_patches(images, texture, 3, SCALE)
    assert torch.equal(a, b) and not torch.equal(b, c)
