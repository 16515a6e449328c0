"""A ViT-S/16 in plain PyTorch, with timm's parameter names (so DINO's file loads as is).

- `Block`: pre-norm transformer block, x += Attn(LN(x)); x += MLP(LN(x)), LayerNorm eps
  1e-6, 6 heads of 64 (one qkv Linear with bias, softmax(q k^T / 8)), MLP 384 -> 1536 ->
  384 with exact (erf) GELU. No dropout, no drop path.
- `VisionTransformer`: the parameters of timm's ViT (patch embedding, class token,
  position table, blocks, final norm, 1000-way head) and a loop over the blocks that
  returns the tokens after chosen blocks. ViTAD's teacher runs all of it but the norm
  and head; its student runs only the blocks (docs/baselines.md, "ViTAD").
- `resize_position_table`: a pretrained position table for another grid, bicubic with
  antialiasing, as timm resamples DINO's 14 x 14 table.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from baselines.precision import at_least_fp32

PATCH = 16
WIDTH = 384
HEADS = 6
MLP_WIDTH = 1536
CLASSES = 1000
NORM_EPS = 1e-6


class Attention(nn.Module):
    """Multi-head self-attention with one fused q, k, v projection (timm's layout)."""

    def __init__(self, dim: int = WIDTH, heads: int = HEADS) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, L, head_dim)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))


class Mlp(nn.Module):
    """Linear -> exact GELU -> Linear."""

    def __init__(self, dim: int = WIDTH, hidden: int = MLP_WIDTH) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int = WIDTH) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.attn = Attention(dim)
        self.norm2 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.mlp = Mlp(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """16 x 16 patches -> 384-channel tokens (a stride-16 conv), row-major."""

    def __init__(self, dim: int = WIDTH) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, PATCH, stride=PATCH)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """timm's ViT-S/16 parameters for a grid x grid patch grid.

    `class_row`: whether the position table has a row for the class token (the
    teacher's, (1, 1 + grid^2, 384)) or not (ViTAD's student, (1, grid^2, 384)).
    Initialised as timm initialises a ViT: Linear weights truncated normal (std 0.02),
    biases 0, LayerNorms (1, 0), position table truncated normal (std 0.02), class token
    normal (std 1e-6); the patch conv keeps PyTorch's default.
    """

    def __init__(self, grid: int, depth: int, class_row: bool) -> None:
        super().__init__()
        self.grid = grid
        self.patch_embed = PatchEmbed()
        self.cls_token = nn.Parameter(torch.empty(1, 1, WIDTH))
        self.pos_embed = nn.Parameter(torch.empty(1, int(class_row) + grid * grid, WIDTH))
        self.blocks = nn.ModuleList(Block() for _ in range(depth))
        self.norm = nn.LayerNorm(WIDTH, eps=NORM_EPS)
        self.head = nn.Linear(WIDTH, CLASSES)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def run_blocks(self, tokens: torch.Tensor, taps: tuple[int, ...], skip: int = 0
                   ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Run every block on (B, L, 384) tokens. Returns the tokens after the 1-based
        blocks in `taps`, each without its first `skip` tokens and reshaped to
        (B, 384, grid, grid), and the final (B, L, 384) tokens."""
        tapped = []
        for number, block in enumerate(self.blocks, start=1):
            tokens = block(tokens)
            if number in taps:
                patches = tokens[:, skip:]
                tapped.append(patches.transpose(1, 2).reshape(
                    len(tokens), WIDTH, self.grid, self.grid))
        return tapped, tokens


def resize_position_table(table: torch.Tensor, grid: int) -> torch.Tensor:
    """A (1, 1 + n^2, C) position table (class-token row first) for a grid x grid patch
    grid: the class row kept, the n x n others resized with bicubic interpolation,
    align_corners=False, antialias=True (PyTorch's antialiased bicubic uses the a = -0.5
    kernel, the plain one a = -0.75), flattened back row-major. Computed in at least
    float32, returned in the table's dtype."""
    class_row, patches = table[:, :1], table[:, 1:]
    side = math.isqrt(patches.shape[1])
    if side * side != patches.shape[1]:
        raise ValueError(f"position table of {patches.shape[1]} patch rows is not a square grid")
    if side == grid:
        return table
    channels = table.shape[-1]
    image = patches.reshape(1, side, side, channels).permute(0, 3, 1, 2)
    image = at_least_fp32(image)
    resized = F.interpolate(image, size=(grid, grid), mode="bicubic", align_corners=False,
                            antialias=True)
    resized = resized.permute(0, 2, 3, 1).reshape(1, grid * grid, channels)
    return torch.cat([class_row, resized.to(table.dtype)], dim=1)
