"""InvAD's loss, anomaly map and compile-friendliness against independent references.

The map is recomputed in numpy from the spec's description (channel L2 norm, bilinear
resize with align_corners=True written out by hand, cosine over the concatenated
scales, scipy.ndimage.gaussian_filter sigma 4); the loss by hand from its formula.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from baselines import build_model
from baselines.models.invad.model import InvADOutputs

SIZE = 64


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return build_model("invad", image_size=SIZE, weights="none", backbone="resnet18")


def random_outputs(channels, batch: int = 2, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> InvADOutputs:
    generator = torch.Generator().manual_seed(seed)
    sizes = (SIZE // 4, SIZE // 8, SIZE // 16)

    def scales():
        return [torch.randn(batch, c, s, s, generator=generator, dtype=dtype)
                for c, s in zip(channels, sizes, strict=True)]

    return InvADOutputs(scales(), scales())


def resize_align_corners(planes: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of (..., H, W) to size x size, corners aligned: output i samples
    input position i (H - 1) / (size - 1)."""
    for axis in (-2, -1):
        length = planes.shape[axis]
        position = np.linspace(0.0, length - 1, size)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, length - 1)
        weight = position - low
        shape = [1] * planes.ndim
        shape[axis] = size
        weight = weight.reshape(shape)
        planes = (np.take(planes, low, axis=axis) * (1 - weight)
                  + np.take(planes, high, axis=axis) * weight)
    return planes


def reference_map(outputs: InvADOutputs, image_size: int) -> np.ndarray:
    def stacked(features):
        parts = []
        for f in features:
            f = f.double().numpy()
            f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
            parts.append(resize_align_corners(f, image_size // 4))
        return np.concatenate(parts, axis=1)

    a, b = stacked(outputs.encoder), stacked(outputs.decoder)
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    distance = resize_align_corners(1.0 - cosine, image_size)
    return np.stack([gaussian_filter(m, sigma=4, truncate=4.0, mode="reflect")
                     for m in distance])


def test_anomaly_map_matches_numpy_scipy_reference(small_model) -> None:
    """Float64 features: the map is computed in float64 (a float32 one sums the cosine's
    448 channels and the norms in an order that depends on the CPU's kernels) and only
    its result is rounded to float32, so it is within one float32 rounding of the exact
    map."""
    outputs = random_outputs(small_model.net_encoder.channels, dtype=torch.float64)
    maps = small_model.anomaly_map(outputs)
    assert maps.dtype == torch.float32 and maps.shape == (2, SIZE, SIZE)
    expected = reference_map(outputs, SIZE)
    np.testing.assert_allclose(maps.numpy(), expected, rtol=0,
                               atol=np.finfo(np.float32).eps * np.abs(expected).max())


def test_anomaly_map_is_zero_for_a_perfect_reconstruction(small_model) -> None:
    outputs = random_outputs(small_model.net_encoder.channels)
    perfect = InvADOutputs(outputs.encoder, [f * 3.0 for f in outputs.encoder])
    assert small_model.anomaly_map(perfect).abs().max() < 1e-5


@pytest.mark.parametrize(("name", "weight"), [("invad", 1.0), ("invad-lite", 5.0)])
def test_loss_is_weighted_sum_of_per_scale_mse(name: str, weight: float) -> None:
    model = build_model(name, image_size=SIZE, weights="none", backbone="resnet18")
    outputs = random_outputs(model.net_encoder.channels, seed=1)
    expected = weight * sum(
        float(((e.double() - d.double()) ** 2).mean())
        for e, d in zip(outputs.encoder, outputs.decoder, strict=True)
    )
    assert float(model.loss(outputs)) == pytest.approx(expected, rel=1e-6)


def test_lite_has_four_blocks_per_stage() -> None:
    model = build_model("invad-lite", image_size=SIZE, weights="none", backbone="resnet18")
    assert [len(stage) for stage in model.net_decoder.convs] == [4, 4, 4]


def test_image_size_must_be_a_multiple_of_16() -> None:
    with pytest.raises(ValueError, match="divisible by 16"):
        build_model("invad", image_size=72, weights="none", backbone="resnet18")


def test_samples_do_not_interact_in_eval_mode(small_model) -> None:
    """The broadcast constant and the per-sample norms keep samples independent.

    A batch of 3 and a batch of 1 may run other convolution kernels (PyTorch picks them
    by batch size, thread count and CPU), which sum in other orders. So the model runs in
    float64, where that costs ~1e-16 of the values: its outputs must agree to 1e-10 of
    their scale. The maps are float32 by design (computed from these outputs); their
    448-channel cosine and 33-tap blurs may also sum in another order per batch size,
    ~sqrt(448 + 2 * 33) * eps32 = 3e-6 of the map's scale: 1e-5 of it is allowed."""
    model = copy.deepcopy(small_model).double().eval()
    images = torch.randn(3, 3, SIZE, SIZE, dtype=torch.float64)
    with torch.no_grad():
        together, alone = model(images), model(images[1:2])
        together_map, alone_map = model.anomaly_map(together), model.anomaly_map(alone)
    for a, b in zip([*together.encoder, *together.decoder], [*alone.encoder, *alone.decoder],
                    strict=True):
        assert a.dtype == torch.float64
        torch.testing.assert_close(a[1:2], b, rtol=1e-10, atol=1e-10 * float(a.abs().max()))
    torch.testing.assert_close(together_map[1:2], alone_map, rtol=0,
                               atol=1e-5 * float(together_map.abs().max()))


def test_training_step_compiles_as_one_graph(small_model) -> None:
    """No graph breaks (no .item(), no data-dependent Python branches) in forward + loss."""
    compiled = torch.compile(small_model, fullgraph=True, backend="eager")
    images = torch.randn(2, 3, SIZE, SIZE)
    outputs = compiled(images)
    small_model.loss(outputs).backward()
    grads = [p.grad for p in small_model.trainable_parameters()]
    assert all(g is not None for g in grads)
    assert all(p.grad is None for p in small_model.net_encoder.parameters())
    small_model.zero_grad(set_to_none=True)


def test_every_fuser_batchnorm_has_the_specified_eps(small_model) -> None:
    """docs/baselines.md: the three downsampling BNs and conv_cat's BN use eps 1e-6 (as
    ADer builds them), the bottleneck's keep torchvision's 1e-5. Listed one by one from
    the description, so a BN added or changed anywhere in the fuser fails here."""
    expected = {
        "downsamples.0.norm": 1e-6, "downsamples.1.norm": 1e-6, "downsamples.2.norm": 1e-6,
        "conv_cat.norm": 1e-6,
        "conv_bottle.0.bn1": 1e-5, "conv_bottle.0.bn2": 1e-5, "conv_bottle.0.bn3": 1e-5,
    }
    found = {name: module.eps for name, module in small_model.net_fuser.named_modules()
             if isinstance(module, torch.nn.modules.batchnorm._BatchNorm)}
    assert found == expected
