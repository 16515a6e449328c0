"""Plain transcriptions of MambaAD's definitions (docs/baselines.md, "MambaAD") that the
tests compare our implementation against: the selective scan step by step, and the 2-D
scan of an SSM layer done ADer's way (scatter-encoded Hilbert orders of transposed and
rotated copies of the map, undone one direction at a time).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines.models.mambaad.scan_orders import hilbert_order


def reference_scan(u, delta, A, B, C, D, delta_bias):
    """The recurrence step by step: x_t = exp(Delta_t A) x_(t-1) + Delta_t u_t B_t,
    y_t = <C_t, x_t> + D u_t, Delta = softplus(delta + delta_bias), B and C per group."""
    batch, channels, length = u.shape
    per_group = channels // B.shape[1]
    B = B.repeat_interleave(per_group, dim=1)  # (batch, channels, N, L)
    C = C.repeat_interleave(per_group, dim=1)
    Delta = F.softplus(delta + delta_bias[:, None])
    x = u.new_zeros(batch, channels, A.shape[1])
    ys = []
    for t in range(length):
        drive = (Delta[:, :, t] * u[:, :, t])[..., None] * B[..., t]
        x = torch.exp(Delta[:, :, t, None] * A) * x + drive
        ys.append((x * C[..., t]).sum(-1) + D * u[:, :, t])
    return torch.stack(ys, dim=-1)


def reference_ss2d(layer, x: torch.Tensor) -> torch.Tensor:
    """An SS2D layer's output for a (b, H, W, C) map, computed with the layer's weights the
    way ADer's code does it: the four arrangements (map, transposed, rotated by 90 degrees,
    rotated and transposed) are each encoded into Hilbert order by a scatter with the
    inverse order, reversed copies make directions 4-7, each direction gets its own
    projections and a separate scan, and every output is decoded by a scatter, its
    arrangement undone (transpose, rotation by 270 degrees) and summed."""
    batch, height, width, _ = x.shape
    inner, rank = layer.inner, layer.rank
    state = layer.A_logs.shape[1]
    u, z = F.linear(x, layer.in_proj.weight).chunk(2, dim=-1)
    u = F.silu(F.conv2d(u.permute(0, 3, 1, 2), layer.conv2d.weight, layer.conv2d.bias,
                        padding=1, groups=inner))
    order = torch.as_tensor(hilbert_order(height))
    inverse = torch.argsort(order)

    def encode(v: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(v).scatter(2, inverse.expand_as(v), v)

    def decode(v: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(v).scatter(2, order.expand_as(v), v)

    rotated = torch.rot90(u, 1, dims=(2, 3))
    reads = [encode(m.flatten(2)) for m in (u, u.transpose(2, 3), rotated, rotated.transpose(2, 3))]
    reads += [r.flip(-1) for r in reads]
    A = -torch.exp(layer.A_logs).view(8, inner, state)
    skip, bias = layer.Ds.view(8, inner), layer.dt_projs_bias
    merged = torch.zeros_like(u)
    for k, read in enumerate(reads):
        projected = torch.einsum("cd,bdl->bcl", layer.x_proj_weight[k], read)
        delta, B, C = projected.split([rank, state, state], dim=1)
        delta = torch.einsum("dr,brl->bdl", layer.dt_projs_weight[k], delta)
        y = reference_scan(read, delta, A[k], B[:, None], C[:, None], skip[k], bias[k])
        if k >= 4:
            y = y.flip(-1)
        grid = decode(y).view(batch, inner, height, width)
        if k % 4 == 1:
            grid = grid.transpose(2, 3)
        elif k % 4 == 2:
            grid = torch.rot90(grid, 3, dims=(2, 3))
        elif k % 4 == 3:
            grid = torch.rot90(grid.transpose(2, 3), 3, dims=(2, 3))
        merged = merged + grid
    y = F.layer_norm(merged.permute(0, 2, 3, 1), (inner,), layer.out_norm.weight,
                     layer.out_norm.bias) * F.silu(z)
    return F.linear(y, layer.out_proj.weight)
