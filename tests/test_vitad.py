"""ViTAD: ADer's parameter table, the DINO teacher against timm, the position-table resize
against a transcription of antialiased bicubic, loss, map and image score against plain
transcriptions, the unused parameters, and the weights file paths.

The table below is the "#parameters or shape" column of the fvcore table in ADer's fold-0
COCO-AD log (vitad_coco_0_100e.log), every row, at 256 x 256.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fvcore_tables import n_frozen, n_params, table_mismatches, table_rows
from PIL import Image
from reference_ops import (
    bicubic_antialias_matrix,
    bilinear_align_corners,
    pooled_max_loops,
)
from scipy.ndimage import gaussian_filter

from baselines import build_model, get_baseline
from baselines.models.vitad import ViTAD, build
from baselines.models.vitad.model import ViTADOutputs
from baselines.models.vitad.vit import resize_position_table
from baselines.training import make_train_step
from baselines.weights import WeightsError

VITAD_TABLE = """
model 38.971M
net_t 22.074M
net_t.cls_token (1,1,384)
net_t.pos_embed (1,257,384)
net_t.patch_embed.proj 0.295M
net_t.patch_embed.proj.weight (384,3,16,16)
net_t.patch_embed.proj.bias (384,)
net_t.blocks 21.294M
net_t.blocks.0 1.774M
net_t.blocks.0.norm1 0.768K
net_t.blocks.0.norm1.weight (384,)
net_t.blocks.0.norm1.bias (384,)
net_t.blocks.0.attn 0.591M
net_t.blocks.0.attn.qkv 0.444M
net_t.blocks.0.attn.proj 0.148M
net_t.blocks.0.norm2 0.768K
net_t.blocks.0.norm2.weight (384,)
net_t.blocks.0.norm2.bias (384,)
net_t.blocks.0.mlp 1.182M
net_t.blocks.0.mlp.fc1 0.591M
net_t.blocks.0.mlp.fc2 0.59M
net_t.blocks.1 1.774M
net_t.blocks.1.norm1 0.768K
net_t.blocks.1.norm1.weight (384,)
net_t.blocks.1.norm1.bias (384,)
net_t.blocks.1.attn 0.591M
net_t.blocks.1.attn.qkv 0.444M
net_t.blocks.1.attn.proj 0.148M
net_t.blocks.1.norm2 0.768K
net_t.blocks.1.norm2.weight (384,)
net_t.blocks.1.norm2.bias (384,)
net_t.blocks.1.mlp 1.182M
net_t.blocks.1.mlp.fc1 0.591M
net_t.blocks.1.mlp.fc2 0.59M
net_t.blocks.2 1.774M
net_t.blocks.2.norm1 0.768K
net_t.blocks.2.norm1.weight (384,)
net_t.blocks.2.norm1.bias (384,)
net_t.blocks.2.attn 0.591M
net_t.blocks.2.attn.qkv 0.444M
net_t.blocks.2.attn.proj 0.148M
net_t.blocks.2.norm2 0.768K
net_t.blocks.2.norm2.weight (384,)
net_t.blocks.2.norm2.bias (384,)
net_t.blocks.2.mlp 1.182M
net_t.blocks.2.mlp.fc1 0.591M
net_t.blocks.2.mlp.fc2 0.59M
net_t.blocks.3 1.774M
net_t.blocks.3.norm1 0.768K
net_t.blocks.3.norm1.weight (384,)
net_t.blocks.3.norm1.bias (384,)
net_t.blocks.3.attn 0.591M
net_t.blocks.3.attn.qkv 0.444M
net_t.blocks.3.attn.proj 0.148M
net_t.blocks.3.norm2 0.768K
net_t.blocks.3.norm2.weight (384,)
net_t.blocks.3.norm2.bias (384,)
net_t.blocks.3.mlp 1.182M
net_t.blocks.3.mlp.fc1 0.591M
net_t.blocks.3.mlp.fc2 0.59M
net_t.blocks.4 1.774M
net_t.blocks.4.norm1 0.768K
net_t.blocks.4.norm1.weight (384,)
net_t.blocks.4.norm1.bias (384,)
net_t.blocks.4.attn 0.591M
net_t.blocks.4.attn.qkv 0.444M
net_t.blocks.4.attn.proj 0.148M
net_t.blocks.4.norm2 0.768K
net_t.blocks.4.norm2.weight (384,)
net_t.blocks.4.norm2.bias (384,)
net_t.blocks.4.mlp 1.182M
net_t.blocks.4.mlp.fc1 0.591M
net_t.blocks.4.mlp.fc2 0.59M
net_t.blocks.5 1.774M
net_t.blocks.5.norm1 0.768K
net_t.blocks.5.norm1.weight (384,)
net_t.blocks.5.norm1.bias (384,)
net_t.blocks.5.attn 0.591M
net_t.blocks.5.attn.qkv 0.444M
net_t.blocks.5.attn.proj 0.148M
net_t.blocks.5.norm2 0.768K
net_t.blocks.5.norm2.weight (384,)
net_t.blocks.5.norm2.bias (384,)
net_t.blocks.5.mlp 1.182M
net_t.blocks.5.mlp.fc1 0.591M
net_t.blocks.5.mlp.fc2 0.59M
net_t.blocks.6 1.774M
net_t.blocks.6.norm1 0.768K
net_t.blocks.6.norm1.weight (384,)
net_t.blocks.6.norm1.bias (384,)
net_t.blocks.6.attn 0.591M
net_t.blocks.6.attn.qkv 0.444M
net_t.blocks.6.attn.proj 0.148M
net_t.blocks.6.norm2 0.768K
net_t.blocks.6.norm2.weight (384,)
net_t.blocks.6.norm2.bias (384,)
net_t.blocks.6.mlp 1.182M
net_t.blocks.6.mlp.fc1 0.591M
net_t.blocks.6.mlp.fc2 0.59M
net_t.blocks.7 1.774M
net_t.blocks.7.norm1 0.768K
net_t.blocks.7.norm1.weight (384,)
net_t.blocks.7.norm1.bias (384,)
net_t.blocks.7.attn 0.591M
net_t.blocks.7.attn.qkv 0.444M
net_t.blocks.7.attn.proj 0.148M
net_t.blocks.7.norm2 0.768K
net_t.blocks.7.norm2.weight (384,)
net_t.blocks.7.norm2.bias (384,)
net_t.blocks.7.mlp 1.182M
net_t.blocks.7.mlp.fc1 0.591M
net_t.blocks.7.mlp.fc2 0.59M
net_t.blocks.8 1.774M
net_t.blocks.8.norm1 0.768K
net_t.blocks.8.norm1.weight (384,)
net_t.blocks.8.norm1.bias (384,)
net_t.blocks.8.attn 0.591M
net_t.blocks.8.attn.qkv 0.444M
net_t.blocks.8.attn.proj 0.148M
net_t.blocks.8.norm2 0.768K
net_t.blocks.8.norm2.weight (384,)
net_t.blocks.8.norm2.bias (384,)
net_t.blocks.8.mlp 1.182M
net_t.blocks.8.mlp.fc1 0.591M
net_t.blocks.8.mlp.fc2 0.59M
net_t.blocks.9 1.774M
net_t.blocks.9.norm1 0.768K
net_t.blocks.9.norm1.weight (384,)
net_t.blocks.9.norm1.bias (384,)
net_t.blocks.9.attn 0.591M
net_t.blocks.9.attn.qkv 0.444M
net_t.blocks.9.attn.proj 0.148M
net_t.blocks.9.norm2 0.768K
net_t.blocks.9.norm2.weight (384,)
net_t.blocks.9.norm2.bias (384,)
net_t.blocks.9.mlp 1.182M
net_t.blocks.9.mlp.fc1 0.591M
net_t.blocks.9.mlp.fc2 0.59M
net_t.blocks.10 1.774M
net_t.blocks.10.norm1 0.768K
net_t.blocks.10.norm1.weight (384,)
net_t.blocks.10.norm1.bias (384,)
net_t.blocks.10.attn 0.591M
net_t.blocks.10.attn.qkv 0.444M
net_t.blocks.10.attn.proj 0.148M
net_t.blocks.10.norm2 0.768K
net_t.blocks.10.norm2.weight (384,)
net_t.blocks.10.norm2.bias (384,)
net_t.blocks.10.mlp 1.182M
net_t.blocks.10.mlp.fc1 0.591M
net_t.blocks.10.mlp.fc2 0.59M
net_t.blocks.11 1.774M
net_t.blocks.11.norm1 0.768K
net_t.blocks.11.norm1.weight (384,)
net_t.blocks.11.norm1.bias (384,)
net_t.blocks.11.attn 0.591M
net_t.blocks.11.attn.qkv 0.444M
net_t.blocks.11.attn.proj 0.148M
net_t.blocks.11.norm2 0.768K
net_t.blocks.11.norm2.weight (384,)
net_t.blocks.11.norm2.bias (384,)
net_t.blocks.11.mlp 1.182M
net_t.blocks.11.mlp.fc1 0.591M
net_t.blocks.11.mlp.fc2 0.59M
net_t.norm 0.768K
net_t.norm.weight (384,)
net_t.norm.bias (384,)
net_t.head 0.385M
net_t.head.weight (1000,384)
net_t.head.bias (1000,)
net_fusion.fc 0.148M
net_fusion.fc.weight (384,384)
net_fusion.fc.bias (384,)
net_s 16.75M
net_s.cls_token (1,1,384)
net_s.pos_embed (1,256,384)
net_s.patch_embed.proj 0.295M
net_s.patch_embed.proj.weight (384,3,16,16)
net_s.patch_embed.proj.bias (384,)
net_s.blocks 15.97M
net_s.blocks.0 1.774M
net_s.blocks.0.norm1 0.768K
net_s.blocks.0.norm1.weight (384,)
net_s.blocks.0.norm1.bias (384,)
net_s.blocks.0.attn 0.591M
net_s.blocks.0.attn.qkv 0.444M
net_s.blocks.0.attn.proj 0.148M
net_s.blocks.0.norm2 0.768K
net_s.blocks.0.norm2.weight (384,)
net_s.blocks.0.norm2.bias (384,)
net_s.blocks.0.mlp 1.182M
net_s.blocks.0.mlp.fc1 0.591M
net_s.blocks.0.mlp.fc2 0.59M
net_s.blocks.1 1.774M
net_s.blocks.1.norm1 0.768K
net_s.blocks.1.norm1.weight (384,)
net_s.blocks.1.norm1.bias (384,)
net_s.blocks.1.attn 0.591M
net_s.blocks.1.attn.qkv 0.444M
net_s.blocks.1.attn.proj 0.148M
net_s.blocks.1.norm2 0.768K
net_s.blocks.1.norm2.weight (384,)
net_s.blocks.1.norm2.bias (384,)
net_s.blocks.1.mlp 1.182M
net_s.blocks.1.mlp.fc1 0.591M
net_s.blocks.1.mlp.fc2 0.59M
net_s.blocks.2 1.774M
net_s.blocks.2.norm1 0.768K
net_s.blocks.2.norm1.weight (384,)
net_s.blocks.2.norm1.bias (384,)
net_s.blocks.2.attn 0.591M
net_s.blocks.2.attn.qkv 0.444M
net_s.blocks.2.attn.proj 0.148M
net_s.blocks.2.norm2 0.768K
net_s.blocks.2.norm2.weight (384,)
net_s.blocks.2.norm2.bias (384,)
net_s.blocks.2.mlp 1.182M
net_s.blocks.2.mlp.fc1 0.591M
net_s.blocks.2.mlp.fc2 0.59M
net_s.blocks.3 1.774M
net_s.blocks.3.norm1 0.768K
net_s.blocks.3.norm1.weight (384,)
net_s.blocks.3.norm1.bias (384,)
net_s.blocks.3.attn 0.591M
net_s.blocks.3.attn.qkv 0.444M
net_s.blocks.3.attn.proj 0.148M
net_s.blocks.3.norm2 0.768K
net_s.blocks.3.norm2.weight (384,)
net_s.blocks.3.norm2.bias (384,)
net_s.blocks.3.mlp 1.182M
net_s.blocks.3.mlp.fc1 0.591M
net_s.blocks.3.mlp.fc2 0.59M
net_s.blocks.4 1.774M
net_s.blocks.4.norm1 0.768K
net_s.blocks.4.norm1.weight (384,)
net_s.blocks.4.norm1.bias (384,)
net_s.blocks.4.attn 0.591M
net_s.blocks.4.attn.qkv 0.444M
net_s.blocks.4.attn.proj 0.148M
net_s.blocks.4.norm2 0.768K
net_s.blocks.4.norm2.weight (384,)
net_s.blocks.4.norm2.bias (384,)
net_s.blocks.4.mlp 1.182M
net_s.blocks.4.mlp.fc1 0.591M
net_s.blocks.4.mlp.fc2 0.59M
net_s.blocks.5 1.774M
net_s.blocks.5.norm1 0.768K
net_s.blocks.5.norm1.weight (384,)
net_s.blocks.5.norm1.bias (384,)
net_s.blocks.5.attn 0.591M
net_s.blocks.5.attn.qkv 0.444M
net_s.blocks.5.attn.proj 0.148M
net_s.blocks.5.norm2 0.768K
net_s.blocks.5.norm2.weight (384,)
net_s.blocks.5.norm2.bias (384,)
net_s.blocks.5.mlp 1.182M
net_s.blocks.5.mlp.fc1 0.591M
net_s.blocks.5.mlp.fc2 0.59M
net_s.blocks.6 1.774M
net_s.blocks.6.norm1 0.768K
net_s.blocks.6.norm1.weight (384,)
net_s.blocks.6.norm1.bias (384,)
net_s.blocks.6.attn 0.591M
net_s.blocks.6.attn.qkv 0.444M
net_s.blocks.6.attn.proj 0.148M
net_s.blocks.6.norm2 0.768K
net_s.blocks.6.norm2.weight (384,)
net_s.blocks.6.norm2.bias (384,)
net_s.blocks.6.mlp 1.182M
net_s.blocks.6.mlp.fc1 0.591M
net_s.blocks.6.mlp.fc2 0.59M
net_s.blocks.7 1.774M
net_s.blocks.7.norm1 0.768K
net_s.blocks.7.norm1.weight (384,)
net_s.blocks.7.norm1.bias (384,)
net_s.blocks.7.attn 0.591M
net_s.blocks.7.attn.qkv 0.444M
net_s.blocks.7.attn.proj 0.148M
net_s.blocks.7.norm2 0.768K
net_s.blocks.7.norm2.weight (384,)
net_s.blocks.7.norm2.bias (384,)
net_s.blocks.7.mlp 1.182M
net_s.blocks.7.mlp.fc1 0.591M
net_s.blocks.7.mlp.fc2 0.59M
net_s.blocks.8 1.774M
net_s.blocks.8.norm1 0.768K
net_s.blocks.8.norm1.weight (384,)
net_s.blocks.8.norm1.bias (384,)
net_s.blocks.8.attn 0.591M
net_s.blocks.8.attn.qkv 0.444M
net_s.blocks.8.attn.proj 0.148M
net_s.blocks.8.norm2 0.768K
net_s.blocks.8.norm2.weight (384,)
net_s.blocks.8.norm2.bias (384,)
net_s.blocks.8.mlp 1.182M
net_s.blocks.8.mlp.fc1 0.591M
net_s.blocks.8.mlp.fc2 0.59M
net_s.norm 0.768K
net_s.norm.weight (384,)
net_s.norm.bias (384,)
net_s.head 0.385M
net_s.head.weight (1000,384)
net_s.head.bias (1000,)
"""


@pytest.fixture(scope="module")
def vitad256() -> ViTAD:
    with torch.device("meta"):  # counting needs no storage
        return build(256, weights="none")


@pytest.fixture(scope="module")
def tiny() -> ViTAD:
    torch.manual_seed(0)
    return build(64, weights="none")


# ---------------------------------------------------------------- parity
def test_every_row_of_aders_table(vitad256: ViTAD) -> None:
    assert not table_mismatches(vitad256, table_rows(VITAD_TABLE))


def test_exact_counts_and_frozen_teacher(vitad256: ViTAD) -> None:
    assert n_params(vitad256) == 38_971_472
    assert n_params(vitad256.net_t) == 22_073_704
    assert n_params(vitad256.net_fusion) == 147_840
    assert n_params(vitad256.net_s) == 16_749_928
    frozen = n_frozen(vitad256)
    assert frozen == 22_073_704
    assert {name.split(".")[0] for name, _ in vitad256.named_parameters()} == {
        "net_t", "net_fusion", "net_s"}
    unused = ("cls_token", "patch_embed", "norm.", "head")
    assert sum(p.numel() for n, p in vitad256.net_s.named_parameters()
               if n.startswith(unused)) == 681_448


@pytest.mark.parametrize("size", [64, 128])
def test_other_sizes_change_only_the_position_tables(size: int) -> None:
    with torch.device("meta"):
        model = build(size, weights="none")
    grid = size // 16
    assert tuple(model.net_t.pos_embed.shape) == (1, 1 + grid * grid, 384)
    assert tuple(model.net_s.pos_embed.shape) == (1, grid * grid, 384)
    assert n_params(model) == 38_971_472 - (257 + 256 - 1 - 2 * grid * grid) * 384


def test_image_size_must_be_a_multiple_of_16() -> None:
    with pytest.raises(ValueError, match="divisible by 16"):
        build(100, weights="none")
    with pytest.raises(ValueError, match="--backbone"):
        build(64, weights="none", backbone="resnet18")


def test_registry_recipe_is_aders() -> None:
    entry = get_baseline("vitad")
    recipe = entry.recipe
    assert (recipe.lr, recipe.ref_batch, recipe.batch_size, recipe.betas) == (
        1e-4, 8, 8, (0.9, 0.999))
    assert (recipe.optimizer, recipe.weight_decay, recipe.eps, recipe.schedule,
            recipe.decay_at, recipe.epochs) == ("adamw", 1e-4, 1e-8, "step", 0.8, 100)
    assert entry.backbone == "vit_small_patch16_224.dino"


# ---------------------------------------------------------------- position table
@pytest.mark.parametrize("grid", [4, 8, 16, 20])
def test_position_resize_is_antialiased_bicubic(grid: int) -> None:
    """Against PIL's resampling algorithm transcribed in numpy (a = -0.5, the kernel
    stretched when shrinking), and against PIL itself on float32 images."""
    generator = torch.Generator().manual_seed(grid)
    table = torch.randn(1, 1 + 14 * 14, 6, dtype=torch.float64, generator=generator)
    resized = resize_position_table(table, grid)
    assert resized.shape == (1, 1 + grid * grid, 6) and resized.dtype == torch.float64
    assert torch.equal(resized[:, 0], table[:, 0])
    weights = bicubic_antialias_matrix(14, grid)
    patches = table[0, 1:].numpy().reshape(14, 14, 6)
    for channel in range(6):
        expected = weights @ patches[..., channel] @ weights.T
        got = resized[0, 1:, channel].numpy().reshape(grid, grid)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        image = Image.fromarray(patches[..., channel].astype(np.float32), mode="F")
        pil = np.asarray(image.resize((grid, grid), Image.Resampling.BICUBIC))
        np.testing.assert_allclose(got, pil, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_the_antialias_flag_matters_when_upsampling() -> None:
    """14 -> 16: PyTorch's plain bicubic uses a = -0.75 (compared away from the borders,
    where it clamps indices instead of renormalising) and so gives other values."""
    table = torch.randn(1, 197, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    image = table[:, 1:].reshape(1, 14, 14, 3).permute(0, 3, 1, 2)
    plain = F.interpolate(image, size=(16, 16), mode="bicubic", align_corners=False)
    ours = resize_position_table(table, 16)[:, 1:].reshape(1, 16, 16, 3).permute(0, 3, 1, 2)
    assert (plain - ours).abs().max() > 1e-2
    keys = bicubic_antialias_matrix(14, 16, a=-0.75)
    inner = slice(2, 14)  # outputs whose four taps lie inside the 14 inputs
    np.testing.assert_allclose((keys @ image[0, 0].numpy() @ keys.T)[inner, inner],
                               plain[0, 0].numpy()[inner, inner], rtol=1e-12, atol=1e-12)


def test_same_grid_is_left_alone_and_bad_tables_are_refused() -> None:
    table = torch.randn(1, 197, 4)
    assert resize_position_table(table, 14) is table
    with pytest.raises(ValueError, match="square"):
        resize_position_table(torch.randn(1, 1 + 15, 4), 4)


# ---------------------------------------------------------------- teacher and weights
def _random_dino_state(seed: int) -> dict[str, torch.Tensor]:
    """A state dict with DINO's keys and shapes (224 px, no head), every tensor random."""
    torch.manual_seed(seed)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in build(224, weights="none").net_t.state_dict().items()}
    state = {}
    for key, shape in shapes.items():
        if key.startswith("head."):
            continue
        scale = 0.1 if key.endswith(".weight") and len(shape) == 1 else 0.05
        base = 1.0 if key.endswith(".weight") and len(shape) == 1 else 0.0
        state[key] = base + scale * torch.randn(shape)
    return state


def test_teacher_matches_timm_with_the_same_weights(tmp_path: Path) -> None:
    """Our teacher at 64 px, loaded from a DINO-shaped file (its 14 x 14 table resized
    on load), gives timm's tokens after blocks 3, 6, 9 and 12 (timm loading the same file
    through its own checkpoint filter, which resizes the table the same way)."""
    timm = pytest.importorskip("timm")
    from timm.models.vision_transformer import checkpoint_filter_fn

    state = _random_dino_state(1)
    path = tmp_path / "dino_like.pth"
    torch.save(state, path)
    ours = build(64, weights=str(path)).net_t.double()
    reference = timm.create_model("vit_small_patch16_224", pretrained=False, img_size=64,
                                  num_classes=1000)
    missing = reference.load_state_dict(checkpoint_filter_fn(state, reference), strict=False)
    assert sorted(missing.missing_keys) == ["head.bias", "head.weight"]
    reference = reference.double().eval()
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected = reference.forward_intermediates(images, indices=[2, 5, 8, 11], norm=False,
                                                   intermediates_only=True)
    taps, neck = ours(images)
    for got, want in zip(taps, expected[:3], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(neck, expected[3].flatten(2).transpose(1, 2), rtol=1e-10,
                               atol=1e-10)
    assert not any(t.requires_grad for t in [*taps, neck])


def test_weights_file_loads_with_the_table_resized(tmp_path: Path) -> None:
    state = _random_dino_state(2)
    path = tmp_path / "dino_like.pth"
    torch.save({"model": state}, path)  # a wrapped state dict is unwrapped
    teacher = build(64, weights=str(path)).net_t
    torch.testing.assert_close(teacher.pos_embed, resize_position_table(state["pos_embed"], 4))
    torch.testing.assert_close(teacher.state_dict()["blocks.7.mlp.fc2.weight"],
                               state["blocks.7.mlp.fc2.weight"])
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())


def test_weights_file_that_does_not_fit_is_one_line_error(tmp_path: Path) -> None:
    state = _random_dino_state(3)
    del state["blocks.11.norm2.bias"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as raised:
        build(64, weights=str(path))
    message = str(raised.value)
    assert "\n" not in message and "broken.pth" in message
    assert "blocks.11.norm2.bias" in message


def test_a_file_named_like_dinos_is_checked_against_its_pin(tmp_path: Path) -> None:
    """DINO's file has no hash in its name; a file of that name must carry the md5 prefix
    published for it (a random file does not)."""
    path = tmp_path / "dino_deitsmall16_pretrain.pth"
    torch.save(_random_dino_state(4), path)
    with pytest.raises(WeightsError, match="md5"):
        build(64, weights=str(path))


# ---------------------------------------------------------------- forward, loss, map
def test_pairs_teacher_blocks_with_reversed_student_blocks(tiny: ViTAD) -> None:
    """(T3, S9), (T6, S6), (T9, S3): the student's outputs come deepest first."""
    captured: dict[int, torch.Tensor] = {}
    hooks = [tiny.net_s.blocks[i - 1].register_forward_hook(
        lambda _m, _i, out, i=i: captured.__setitem__(i, out)) for i in (3, 6, 9)]
    try:
        out = tiny(torch.randn(2, 3, 64, 64))
    finally:
        for hook in hooks:
            hook.remove()
    for got, block in zip(out.student, (9, 6, 3), strict=True):
        torch.testing.assert_close(got, captured[block].transpose(1, 2).reshape(2, 384, 4, 4))
    assert [tuple(f.shape) for f in out.teacher] == [(2, 384, 4, 4)] * 3


def random_pairs(seed: int, dtype=torch.float64) -> ViTADOutputs:
    g = torch.Generator().manual_seed(seed)
    make = lambda: [torch.randn(3, 16, 4, 4, generator=g, dtype=dtype) for _ in range(3)]  # noqa: E731
    return ViTADOutputs(make(), make())


def test_loss_matches_per_sample_cosine_transcription(tiny: ViTAD) -> None:
    out = random_pairs(1)
    expected = 0.0
    for t, s in zip(out.teacher, out.student, strict=True):
        per_sample = []
        for b in range(3):
            u, v = t[b].numpy().ravel(), s[b].numpy().ravel()
            per_sample.append(1.0 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
        expected += np.mean(per_sample)
    assert float(tiny.loss(out)) == pytest.approx(expected, rel=1e-12)


def test_map_and_image_score_match_transcriptions(tiny: ViTAD) -> None:
    out = random_pairs(2)
    maps = tiny.anomaly_map(out)
    assert maps.dtype == torch.float32 and maps.shape == (3, 64, 64)
    # scored in float64: a float32 16 x 16 mean sums 256 terms in an order that depends on
    # the CPU's kernels (~sqrt(256) eps32 apart); the float32 scores of a run are checked
    # in test_pipeline_baselines
    scores = tiny.image_score(out, maps.double())
    assert scores.dtype == torch.float64
    for b in range(3):
        total = np.zeros((64, 64))
        for t, s in zip(out.teacher, out.student, strict=True):
            u, v = t[b].numpy(), s[b].numpy()
            cosine = (u * v).sum(0) / (np.linalg.norm(u, axis=0) * np.linalg.norm(v, axis=0))
            total += bilinear_align_corners(1.0 - cosine, 64)
        expected = gaussian_filter(total / 9.0, sigma=4, truncate=4.0, mode="reflect")
        np.testing.assert_allclose(maps[b].numpy(), expected, rtol=0, atol=1e-6)
        assert float(scores[b]) == pytest.approx(pooled_max_loops(maps[b].double().numpy(), 16),
                                                 rel=1e-12)
    assert float(tiny.anomaly_map(ViTADOutputs(out.teacher, out.teacher)).abs().max()) < 1e-6


def test_training_steps_lower_the_loss_and_leave_unused_tensors_alone(tiny: ViTAD) -> None:
    """AdamW with ADer's decay filter (the recipe's optimiser, at a higher lr): the loss
    falls; the student's patch embedding, class token, norm and head get no gradient and
    are neither updated nor decayed; the teacher does not move."""
    torch.manual_seed(5)
    model = build(64, weights="none")
    model.train()
    recipe = get_baseline("vitad").recipe
    step = make_train_step(model, recipe, batch_size=4 * 50, total_iterations=100, amp=False)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    images = torch.randn(4, 3, 64, 64)
    losses = [float(cast(torch.Tensor, step(images))) for _ in range(10)]
    assert losses[-1] < 0.7 * losses[0]
    unused = ("net_s.cls_token", "net_s.patch_embed", "net_s.norm.", "net_s.head")
    for name, parameter in model.named_parameters():
        moved = not torch.equal(parameter, before[name])
        assert moved == (not name.startswith(("net_t.", *unused))), name
    assert model.has_unused_parameters


def test_one_training_step_and_maps_at_128() -> None:
    torch.manual_seed(12)
    model = build(128, weights="none").train()
    step = make_train_step(model, get_baseline("vitad").recipe, batch_size=2,
                           total_iterations=1, amp=False)
    images = torch.randn(2, 3, 128, 128)
    loss = step(images)
    assert loss is not None and torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        out = model(images)
        maps = model.anomaly_map(out)
        scores = model.image_score(out, maps)
    assert maps.shape == (2, 128, 128) and torch.isfinite(maps).all()
    assert scores.shape == (2,) and bool((scores <= maps.flatten(1).amax(1)).all())


def test_forward_loss_and_map_compile_without_graph_breaks(tiny: ViTAD) -> None:
    def step(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = tiny(images)
        return tiny.loss(out), tiny.anomaly_map(out)

    explanation = torch._dynamo.explain(step)(torch.randn(2, 3, 64, 64))
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_registry_builds_it() -> None:
    with torch.device("meta"):
        assert isinstance(build_model("vitad", image_size=64, weights="none"), ViTAD)
