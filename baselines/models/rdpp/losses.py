"""RD++'s projection loss: pull noisy and clean projections together, push the clean
projection away from the teacher's noisy features.

L_proj = (L_ssot + 0.01 L_rec + 0.1 L_con) / 1.11, each term summed over the three
scales (docs/baselines.md, "RD++"):
- L_rec: mean over (b, h, w) of 1 - cosine over channels of P~ and P;
- L_con: mean over b of max(0, cos(flat T~[b], flat P[b]) - 0.5) (PyTorch's
  CosineEmbeddingLoss with target -1 and margin 0.5);
- L_ssot: ADer's debiased Sinkhorn divergence between the batch of softmax(flat P[b]) and
  the same batch shuffled: two copies of one point set, so it is identically 0 (value
  and gradient; tests/test_rdpp_losses.py shows it with a float64 transcription) and is
  not computed.
Cosines in at least float32, also under autocast.
"""

from __future__ import annotations

import torch

from baselines.cosine import channel_cosine, flat_cosine
from baselines.precision import no_autocast

RECONSTRUCTION_WEIGHT = 0.01
CONTRAST_WEIGHT = 0.1
CONTRAST_MARGIN = 0.5
# ADer divides by the sum of the three weights (L_ssot's is 1), although L_ssot is 0
WEIGHT_SUM = 1.0 + RECONSTRUCTION_WEIGHT + CONTRAST_WEIGHT


def reconstruction_loss(noisy: list[torch.Tensor], clean: list[torch.Tensor]) -> torch.Tensor:
    """L_rec: sum over scales of the mean over (b, h, w) of 1 - cos over channels."""
    return torch.stack([
        (1.0 - channel_cosine(n, c)).mean()
        for n, c in zip(noisy, clean, strict=True)
    ]).sum()


def contrast_loss(teacher_noisy: list[torch.Tensor], clean: list[torch.Tensor]) -> torch.Tensor:
    """L_con: sum over scales of the mean over b of max(0, cos(flat T~[b], flat P[b]) - 0.5)."""
    return torch.stack([
        (flat_cosine(t, c) - CONTRAST_MARGIN).clamp(min=0).mean()
        for t, c in zip(teacher_noisy, clean, strict=True)
    ]).sum()


def projection_loss(teacher_noisy: list[torch.Tensor], noisy: list[torch.Tensor],
                    clean: list[torch.Tensor]) -> torch.Tensor:
    """L_proj = (0.01 L_rec(P~, P) + 0.1 L_con(T~, P)) / 1.11 (L_ssot = 0)."""
    with no_autocast(clean[0]):
        return (RECONSTRUCTION_WEIGHT * reconstruction_loss(noisy, clean)
                + CONTRAST_WEIGHT * contrast_loss(teacher_noisy, clean)) / WEIGHT_SUM
