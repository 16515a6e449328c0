"""UniAD's reconstruction transformer with neighbourhood-masked attention (ADer's `net_ad`).

The merged feature map X (B, 272, g, g) is read as g^2 tokens (row-major). In train mode
each token x gets feature jitter e * (|x|_2 / 272) * 20, e ~ N(0, I), drawn on the
tokens' device. Linear 272 -> 256; 4 post-norm encoder layers; 4 decoder layers, each
starting from its own learned query table; a final LayerNorm; Linear 256 -> 272: X^.
Every attention (8 heads, width 256) adds a learned position embedding to its queries
and keys (never to its values) and may not look at the keys within m = floor(g / 4)
rows and columns of the query (itself included): the model must rebuild a token from
its surroundings, not copy it. docs/baselines.md, "UniAD".
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

WIDTH = 256
HEADS = 8
FEEDFORWARD = 1024
LAYERS = 4
DROPOUT = 0.1
JITTER_SCALE = 20.0


def neighbourhood_mask(grid: int, half_width: int) -> torch.Tensor:
    """(g^2, g^2) bool, True where query (h1, w1) may NOT attend key (h2, w2):
    |h2 - h1| <= half_width and |w2 - w1| <= half_width (nn.MultiheadAttention's
    convention: True blocks)."""
    rows = torch.arange(grid).repeat_interleave(grid)  # h of each row-major position
    cols = torch.arange(grid).repeat(grid)
    near_rows = (rows[:, None] - rows[None, :]).abs() <= half_width
    near_cols = (cols[:, None] - cols[None, :]).abs() <= half_width
    return near_rows & near_cols


def feature_jitter(tokens: torch.Tensor, scale: float = JITTER_SCALE) -> torch.Tensor:
    """tokens (B, L, C) + e * (|token|_2 / C) * scale, e ~ N(0, I) from torch's generator
    on the tokens' device."""
    norms = tokens.norm(dim=-1, keepdim=True) / tokens.shape[-1]
    noise = torch.randn(tokens.shape, device=tokens.device, dtype=tokens.dtype)
    return tokens + noise * norms * scale


class PositionEmbedding(nn.Module):
    """Learned row and column tables (g, 128) each, U[0, 1); position (h, w) gets
    [column[w], row[h]] (column half first): (g^2, 256)."""

    def __init__(self, grid: int, width: int = WIDTH) -> None:
        super().__init__()
        self.row_embed = nn.Embedding(grid, width // 2)
        self.col_embed = nn.Embedding(grid, width // 2)
        nn.init.uniform_(self.row_embed.weight)
        nn.init.uniform_(self.col_embed.weight)

    def forward(self) -> torch.Tensor:
        grid = self.row_embed.num_embeddings
        columns = self.col_embed.weight[None].expand(grid, -1, -1)  # [h, w] -> column[w]
        rows = self.row_embed.weight[:, None].expand(-1, grid, -1)  # [h, w] -> row[h]
        return torch.cat([columns, rows], dim=-1).flatten(0, 1)


def _attention() -> nn.MultiheadAttention:
    return nn.MultiheadAttention(WIDTH, HEADS, dropout=DROPOUT, batch_first=True)


class FeedForwardLayer(nn.Module):
    """What encoder and decoder layers share: FF(x) = linear2(Drop(ReLU(linear1(x))))."""

    def __init__(self) -> None:
        super().__init__()
        self.linear1 = nn.Linear(WIDTH, FEEDFORWARD)
        self.dropout = nn.Dropout(DROPOUT)
        self.linear2 = nn.Linear(FEEDFORWARD, WIDTH)

    def feedforward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


class EncoderLayer(FeedForwardLayer):
    """Post-norm: x = LN(x + Drop(MHA(x + pos, x + pos, x))); x = LN(x + Drop(FF(x)))."""

    def __init__(self) -> None:
        super().__init__()
        self.self_attn = _attention()
        self.norm1 = nn.LayerNorm(WIDTH)
        self.norm2 = nn.LayerNorm(WIDTH)
        self.dropout1 = nn.Dropout(DROPOUT)
        self.dropout2 = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keyed = x + pos
        attended = self.self_attn(keyed, keyed, x, attn_mask=mask, need_weights=False)[0]
        x = self.norm1(x + self.dropout1(attended))
        return self.norm2(x + self.dropout2(self.feedforward(x)))


class DecoderLayer(FeedForwardLayer):
    """Starts from its learned queries t = Q (same for every sample):
    t = LN1(t + Drop(MHA(t + pos, memory + pos, memory)));
    t = LN2(t + Drop(MHA(t + pos, previous + pos, previous)));
    t = LN3(t + Drop(FF(t))), where memory is the encoder output and previous the last
    layer's output (the memory before the first layer)."""

    def __init__(self, tokens: int) -> None:
        super().__init__()
        self.learned_embed = nn.Embedding(tokens, WIDTH)  # N(0, 1)
        self.self_attn = _attention()
        self.multihead_attn = _attention()
        self.norm1 = nn.LayerNorm(WIDTH)
        self.norm2 = nn.LayerNorm(WIDTH)
        self.norm3 = nn.LayerNorm(WIDTH)
        self.dropout1 = nn.Dropout(DROPOUT)
        self.dropout2 = nn.Dropout(DROPOUT)
        self.dropout3 = nn.Dropout(DROPOUT)

    def forward(self, previous: torch.Tensor, memory: torch.Tensor, pos: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        t = self.learned_embed.weight[None].expand(len(memory), -1, -1)
        attended = self.self_attn(t + pos, memory + pos, memory, attn_mask=mask,
                                  need_weights=False)[0]
        t = self.norm1(t + self.dropout1(attended))
        attended = self.multihead_attn(t + pos, previous + pos, previous, attn_mask=mask,
                                       need_weights=False)[0]
        t = self.norm2(t + self.dropout2(attended))
        return self.norm3(t + self.dropout3(self.feedforward(t)))


class Encoder(nn.Module):
    def __init__(self, layer: EncoderLayer, count: int = LAYERS) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(count))

    def forward(self, x: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, pos, mask)
        return x


class Decoder(nn.Module):
    def __init__(self, layer: DecoderLayer, count: int = LAYERS) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(count))
        self.norm = nn.LayerNorm(WIDTH)

    def forward(self, memory: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor
                ) -> torch.Tensor:
        out = memory
        for layer in self.layers:
            out = layer(out, memory, pos, mask)
        return self.norm(out)


class Transformer(nn.Module):
    """Encoder + decoder. As in ADer, each stack's layers start as copies of one layer
    (same query tables and attention input projections); the Linear layers are then
    re-initialised one by one (`ReconstructionTransformer`)."""

    def __init__(self, tokens: int) -> None:
        super().__init__()
        self.encoder = Encoder(EncoderLayer())
        self.decoder = Decoder(DecoderLayer(tokens))

    def forward(self, x: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x, pos, mask), pos, mask)


class ReconstructionTransformer(nn.Module):
    """ADer's `net_ad`: X (B, C, g, g) -> X^ (B, C, g, g), jittered input in train mode.

    Init: every Linear (the attentions' output projections included) xavier-uniform with
    zero bias; attention input projections xavier-uniform, zero bias (PyTorch's default);
    query tables N(0, 1); position tables U[0, 1); LayerNorms (1, 0).
    """

    mask: torch.Tensor  # (g^2, g^2) bool buffer, True where attention is blocked

    def __init__(self, channels: int, grid: int) -> None:
        super().__init__()
        self.grid = grid
        self.pos_embed = PositionEmbedding(grid)
        self.transformer = Transformer(grid * grid)
        self.input_proj = nn.Linear(channels, WIDTH)
        self.output_proj = nn.Linear(WIDTH, channels)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        self.register_buffer("mask", neighbourhood_mask(grid, grid // 4), persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        tokens = features.flatten(2).transpose(1, 2)  # (B, g^2, C), row-major
        if self.training:
            tokens = feature_jitter(tokens)
        decoded = self.transformer(self.input_proj(tokens), self.pos_embed(), self.mask)
        return self.output_proj(decoded).transpose(1, 2).reshape(features.shape)
