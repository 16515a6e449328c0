"""MambaAD's SSM layer: a 2-D selective scan along eight Hilbert-curve directions.

`SS2D` (ADer's name) on a channels-last map x (b, H, W, C), D = 2C, R = ceil(C / 16),
N = 16, K = 8 directions, L = H * W (docs/baselines.md, "MambaAD"):
- Linear C -> 2D (no bias) split into u and z; u -> depthwise 3x3 conv (bias) -> SiLU;
- one gather reads u in the eight scan orders: U_k (b, D, L);
- per direction [delta; B_k; C_k] = W_x[k] U_k, delta' = W_dt[k] delta, and the selective
  scan (`scan.selective_scan`) with Delta = softplus(delta' + b_dt[k]), A = -exp(A_log);
- one scatter-add writes every direction's output back where it read: Y (b, H, W, D);
- LayerNorm(Y) * SiLU(z), Linear D -> C (no bias).
`SSMLayer` (ADer's "VSSBlock") wraps it: x + DropPath(SS2D(LayerNorm(x))).

Parameter names are ADer's (x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds), so
its state dicts map onto ours. ADer also keeps each layer's scan order and its inverse as
integer tensors (counted in its parameter table); we keep them as non-persistent int64
buffers for the same count: `scan_order` feeds the direction table, `scan_order_inverse`
is kept for the count only. Each layer builds its direction table once per grid size and
device (a plain attribute, not a buffer); compiled code builds it in the graph as before.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.models.mambaad.scan import selective_scan
from baselines.models.mambaad.scan_orders import direction_table, hilbert_order

STATE_SIZE = 16  # N
DIRECTIONS = 8  # K
DT_MIN, DT_MAX, DT_FLOOR = 1e-3, 1e-1, 1e-4  # initial Delta range and floor


def inverse_softplus(y: Tensor) -> Tensor:
    """x with softplus(x) = y (y > 0): y + log(-expm1(-y))."""
    return y + torch.log(-torch.expm1(-y))


class SS2D(nn.Module):
    """Selective scan of a (b, H, W, C) map along the eight directions of an H x H grid."""

    scan_order: Tensor
    scan_order_inverse: Tensor

    def __init__(self, channels: int, grid: int) -> None:
        super().__init__()
        inner = 2 * channels
        self.inner, self.rank = inner, math.ceil(channels / 16)
        self.in_proj = nn.Linear(channels, 2 * inner, bias=False)
        self.conv2d = nn.Conv2d(inner, inner, 3, padding=1, groups=inner)
        bound = inner ** -0.5  # nn.Linear's default init for W_x
        self.x_proj_weight = nn.Parameter(
            torch.empty(DIRECTIONS, self.rank + 2 * STATE_SIZE, inner).uniform_(-bound, bound))
        bound = self.rank ** -0.5
        self.dt_projs_weight = nn.Parameter(
            torch.empty(DIRECTIONS, inner, self.rank).uniform_(-bound, bound))
        log_dt = torch.empty(DIRECTIONS, inner).uniform_(math.log(DT_MIN), math.log(DT_MAX))
        self.dt_projs_bias = nn.Parameter(inverse_softplus(log_dt.exp().clamp(min=DT_FLOOR)))
        log_a = torch.log(torch.arange(1, STATE_SIZE + 1, dtype=torch.float32))
        self.A_logs = nn.Parameter(log_a.repeat(DIRECTIONS * inner, 1))
        self.Ds = nn.Parameter(torch.ones(DIRECTIONS * inner))
        self.out_norm = nn.LayerNorm(inner)
        self.out_proj = nn.Linear(inner, channels, bias=False)
        order = torch.as_tensor(hilbert_order(grid))
        self.register_buffer("scan_order", order, persistent=False)
        self.register_buffer("scan_order_inverse", torch.argsort(order), persistent=False)
        self._tables: dict[tuple[int, torch.device], Tensor] = {}

    def directions(self, size: int) -> Tensor:
        """`direction_table(scan_order, size)` (K, L), kept per size and device in eager
        mode. Never cached while compiling: a tensor of a compiled (CUDA-graph) region
        must not outlive its run."""
        if torch.compiler.is_compiling():
            return direction_table(self.scan_order, size)
        key = (size, self.scan_order.device)
        if key not in self._tables:
            with torch.inference_mode(False):  # usable by a later autograd-recorded forward
                self._tables[key] = direction_table(self.scan_order, size)
        return self._tables[key]

    def forward(self, x: Tensor) -> Tensor:
        batch, height, width, _ = x.shape
        length, inner = height * width, self.inner
        u, z = self.in_proj(x).chunk(2, dim=-1)
        u = F.silu(self.conv2d(u.permute(0, 3, 1, 2))).flatten(2)  # (b, D, L)
        table = self.directions(height)  # (K, L)
        shape = (batch, DIRECTIONS, inner, length)
        sequences = u.unsqueeze(1).expand(shape).gather(3, table[None, :, None].expand(shape))
        projected = torch.einsum("bkdl,kcd->bkcl", sequences, self.x_proj_weight)
        delta, b_k, c_k = projected.split([self.rank, STATE_SIZE, STATE_SIZE], dim=2)
        delta = torch.einsum("bkrl,kdr->bkdl", delta, self.dt_projs_weight)
        y = selective_scan(sequences.reshape(batch, -1, length), delta.reshape(batch, -1, length),
                           -torch.exp(self.A_logs), b_k, c_k, self.Ds,
                           self.dt_projs_bias.flatten())
        y = y.view(shape).transpose(2, 3).reshape(batch, DIRECTIONS * length, inner)
        merged = y.new_zeros(batch, length, inner).index_add(1, table.flatten(), y)
        y = self.out_norm(merged.view(batch, height, width, inner)) * F.silu(z)
        return self.out_proj(y)


class DropPath(nn.Module):
    """Stochastic depth: in train mode each sample's branch is dropped with probability
    `rate` and survivors are scaled by 1 / (1 - rate); identity in eval mode. The draw
    comes from torch's generator on the input's device."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device, dtype=x.dtype)
        return x * mask.bernoulli_(keep) / keep


class SSMLayer(nn.Module):
    """x + DropPath(SS2D(LayerNorm(x))) on (b, H, W, C) (ADer's "VSSBlock")."""

    def __init__(self, channels: int, grid: int, drop_path: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(channels)
        self.self_attention = SS2D(channels, grid)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop_path(self.self_attention(self.ln_1(x)))
