"""The AE baseline: shapes, the registry factory, and the map against a numpy/scipy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from baselines.models.ae import ConvAutoencoder
from baselines.registry import build_model


def test_factory_and_shapes():
    torch.manual_seed(0)
    model = build_model("ae", image_size=32, weights="none")
    assert isinstance(model, ConvAutoencoder)
    assert len(model.trainable_parameters()) == len(list(model.parameters()))
    images = torch.randn(2, 3, 32, 32)
    outputs = model(images)
    assert outputs[1].shape == images.shape
    assert model.anomaly_map(outputs).shape == (2, 32, 32)
    assert model.loss(outputs).ndim == 0


def test_map_is_smoothed_mean_squared_error():
    """map = gaussian_filter(mean over channels of (x - x_hat)^2, sigma 4), per image."""
    torch.manual_seed(1)
    model = ConvAutoencoder(image_size=48).eval()
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        outputs = model(images)
        maps = model.anomaly_map(outputs).numpy()
        x, x_hat = images.double().numpy(), outputs[1].double().numpy()
        loss = model.loss(outputs).item()
    for b in range(2):
        error = ((x[b] - x_hat[b]) ** 2).mean(axis=0)
        expected = gaussian_filter(error, sigma=4.0, truncate=4.0, mode="reflect")
        np.testing.assert_allclose(maps[b], expected, rtol=1e-4, atol=1e-6)
    assert loss == pytest.approx(((x - x_hat) ** 2).mean(), rel=1e-5)


def test_image_size_must_divide_by_16():
    with pytest.raises(ValueError, match="divisible by 16"):
        ConvAutoencoder(image_size=40)
