"""RD++'s train-time noise patches: crops of one fractal OpenSimplex texture per run.

RD++ teaches its projection layers to map a noisy image's features onto the clean
image's. The noise is a small patch per image: a crop of a fixed 3 x T x T texture of
fractal 3-D OpenSimplex noise (T = S/8 - 1), scaled by 0.2 and added to the image in
[0, 1] at a random place. ADer evaluates the fractal anew for every image on a 3 x h x w
grid whose points do not depend on h and w, so every patch is the top-left crop of one
texture: we compute it once per run (docs/baselines.md, "RD++").

Everything random here is drawn from torch's generator on the images' device, so
`--seed` and `--resume` reproduce it; the texture's permutation seed is drawn once from
torch's CPU generator when the model is built.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from opensimplex import OpenSimplex

OCTAVES = 6
PERSISTENCE = 0.6  # amplitude ratio of successive octaves
BASE_PERIOD = 32.0  # coordinates are divided by 32 / 2^octave
AMPLITUDE = 0.2  # of the noise added to the image in [0, 1]
MIN_SIDE_AT_256 = 10  # patch sides are drawn from [10, 32) at 256 px


def fractal_simplex(seed: int, channels: int, height: int, width: int) -> np.ndarray:
    """(channels, height, width) float64: N[z, y, x] = sum over o < 6 of
    0.6^o * simplex3(x / f_o, y / f_o, z / f_o) with f_o = 32 / 2^o, where simplex3 is
    3-D OpenSimplex (the `opensimplex` package) with the permutation of `seed`.

    Point by point through the package's scalar function (a few thousand points, tens of
    milliseconds): its array version runs in numba's parallel mode, whose OpenMP threads
    slow every later torch operation on the CPU down by 10-30x in the same process.
    """
    noise = OpenSimplex(seed)
    texture = np.zeros((channels, height, width))
    for z, y, x in np.ndindex(channels, height, width):
        texture[z, y, x] = sum(
            PERSISTENCE**octave * noise.noise3(x / period, y / period, z / period)
            for octave, period in enumerate(BASE_PERIOD / 2**o for o in range(OCTAVES)))
    return texture


def patch_sides(image_size: int) -> tuple[int, int]:
    """The range [low, high) of patch heights and widths: [ceil(10 S / 256), S / 8)."""
    return math.ceil(MIN_SIDE_AT_256 * image_size / 256), image_size // 8


def texture_for(image_size: int, seed: int) -> torch.Tensor:
    """The run's 3 x T x T float32 texture, T = S/8 - 1 (the largest patch side)."""
    side = patch_sides(image_size)[1] - 1
    return torch.from_numpy(fractal_simplex(seed, 3, side, side)).float()


def _uniform_below(bounds: torch.Tensor) -> torch.Tensor:
    """One uniform integer in [0, n) for each n of `bounds` (int64), on its device."""
    draws = torch.rand(bounds.shape, dtype=torch.float64, device=bounds.device)
    return (draws * bounds).floor().long()


def add_noise_patches(images: torch.Tensor, texture: torch.Tensor, min_side: int,
                      scale: torch.Tensor) -> torch.Tensor:
    """Images with one noise patch each (a new tensor).

    Per image: height h and width w uniform in [min_side, T + 1), top row r uniform in
    [1, S - h), left column c in [1, S - w); pixels (r + i, c + j) get
    scale[channel] * texture[channel, i, j] for i < h, j < w. `scale` (1, 3, 1, 1) is
    0.2 / the normalisation std, so adding to normalised images equals adding
    0.2 * texture to the images in [0, 1] before normalisation.
    """
    batch, _, height, width = images.shape
    device = images.device
    largest = texture.shape[-1]
    sides = torch.randint(min_side, largest + 1, (2, batch), device=device)
    tops = 1 + _uniform_below(height - sides[0] - 1)
    lefts = 1 + _uniform_below(width - sides[1] - 1)
    rows = torch.arange(height, device=device)[None] - tops[:, None]  # (B, S): row in patch
    cols = torch.arange(width, device=device)[None] - lefts[:, None]
    inside = (((rows >= 0) & (rows < sides[0][:, None]))[:, :, None]
              & ((cols >= 0) & (cols < sides[1][:, None]))[:, None, :])  # (B, S, S)
    crops = texture[:, rows.clamp(0, largest - 1)[:, :, None],
                    cols.clamp(0, largest - 1)[:, None, :]]  # (3, B, S, S)
    patches = crops.transpose(0, 1) * inside[:, None]
    return images + scale * patches.to(images.dtype)
