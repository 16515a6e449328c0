"""MambaAD's selective scan against a sequential transcription of its definition.

The reference (tests/mambaad_reference.py) is the recurrence exactly as docs/baselines.md
("MambaAD") and mamba-ssm's `selective_scan_ref` define it, one step at a time,
differentiated by plain autograd. Our scan (chunked, with a custom backward that
recomputes the states) must give the same values and the same gradient for every input,
in float64, to a relative 1e-10, for lengths that do and do not divide into chunks and for
large Delta (decays that underflow to 0). Whatever the chunk length, the backward's memory
budget or how the batch is split, the answer must not change; and the custom backward must
keep only the inputs and the chunk-start states, never a state per step.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from mambaad_reference import reference_scan

from baselines.models.mambaad.scan import default_chunk, selective_scan

TOLERANCE = 1e-10


def random_inputs(batch: int, groups: int, channels: int, state: int, length: int, seed: int,
                  delta_scale: float = 1.0) -> list[torch.Tensor]:
    """float64 inputs that require gradients: u, delta, A (< 0), B, C, D, delta_bias."""
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    hidden = groups * channels
    inputs = [randn(batch, hidden, length), delta_scale * randn(batch, hidden, length),
              -torch.exp(randn(hidden, state)), randn(batch, groups, state, length),
              randn(batch, groups, state, length), randn(hidden), randn(hidden)]
    return [x.requires_grad_() for x in inputs]


def values_and_gradients(scan, inputs: list[torch.Tensor], grad_y: torch.Tensor, **kwargs
                         ) -> list[torch.Tensor]:
    y = scan(*inputs, **kwargs)
    return [y.detach(), *torch.autograd.grad(y, inputs, grad_y)]


def assert_relative(ours: list[torch.Tensor], reference: list[torch.Tensor],
                    tolerance: float = TOLERANCE) -> None:
    names = ["y", "du", "ddelta", "dA", "dB", "dC", "dD", "ddelta_bias"]
    for name, a, b in zip(names, ours, reference, strict=True):
        assert a.shape == b.shape, name
        error = float((a - b).abs().max())
        scale = float(b.abs().max())
        assert error <= tolerance * scale or error == 0.0, (name, error, scale)


@pytest.mark.parametrize("length", [1, 7, 64, 256, 1024])
@pytest.mark.parametrize("delta_scale", [1.0, 300.0])
def test_values_and_all_gradients_match_the_sequential_recurrence(length: int,
                                                                  delta_scale: float) -> None:
    inputs = random_inputs(2, 3, 4, 5, length, seed=length, delta_scale=delta_scale)
    grad_y = torch.randn(2, 12, length, dtype=torch.float64)
    expected = values_and_gradients(reference_scan, inputs, grad_y)
    assert_relative(values_and_gradients(selective_scan, inputs, grad_y), expected)
    if length > 1:  # the backward recomputing one chunk at a time
        assert_relative(values_and_gradients(selective_scan, inputs, grad_y, state_budget=1),
                        expected)


def test_large_delta_really_underflows_the_decay() -> None:
    """The large-Delta case above exercises decays that are exactly 0 in float64."""
    _, delta, A, *_, delta_bias = random_inputs(2, 3, 4, 5, 64, seed=64, delta_scale=300.0)
    decay = torch.exp(F.softplus(delta + delta_bias[:, None])[:, :, :, None] * A[:, None, :])
    assert (decay == 0).any() and (decay > 0.5).any()


@settings(max_examples=25, deadline=None)
@given(length=st.integers(1, 40), chunk=st.integers(1, 45), budget=st.integers(1, 5000),
       split=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_answer_does_not_depend_on_chunking_budget_or_batch_split(
        length: int, chunk: int, budget: int, split: int, seed: int) -> None:
    inputs = random_inputs(3, 2, 3, 4, length, seed=seed, delta_scale=3.0)
    grad_y = torch.randn(3, 6, length, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(seed))
    expected = values_and_gradients(selective_scan, inputs, grad_y)
    got = values_and_gradients(selective_scan, inputs, grad_y, chunk=chunk, state_budget=budget)
    assert_relative(got, expected, tolerance=1e-12)
    # the first `split` sequences on their own give their slice of the batched answer
    u, delta, A, B, C, D, delta_bias = (
        x.detach()[:split] if x.ndim in (3, 4) else x for x in inputs)
    y = selective_scan(u, delta, A, B, C, D, delta_bias).detach()
    y_expected = expected[0][:split]
    assert float((y - y_expected).abs().max()) <= 1e-12 * float(y_expected.abs().max()) + 1e-300


def saved_elements(function, *args) -> int:
    """Elements of every tensor autograd saves for the backward of `function(*args)`."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function(*args)
    return total


def test_backward_keeps_only_inputs_and_chunk_start_states() -> None:
    """What the lean scan stores: u, Delta, A, B, C and one state per chunk, less than one
    state-sized tensor (batch, channels, N, L); plain autograd through the sequential
    recurrence stores several."""
    batch, groups, channels, state, length = 2, 2, 8, 16, 256
    inputs = random_inputs(batch, groups, channels, state, length, 1)
    chunks = length // default_chunk(length)
    hidden = groups * channels
    scan_inputs = 2 * batch * hidden * length + hidden * state + 2 * batch * groups * state * length
    # + softplus's input (batch, hidden, length) and the skip term's factors D and u
    skip_and_softplus = 2 * batch * hidden * length + hidden
    lean = saved_elements(selective_scan, *inputs)
    assert lean == scan_inputs + batch * hidden * chunks * state + skip_and_softplus
    full_state = batch * hidden * length * state
    assert lean < full_state / 1.5 and saved_elements(reference_scan, *inputs) > 3 * full_state


@pytest.mark.parametrize("length", [64, 1024])
def test_float32_matches_mamba_ssm_kernel(length: int) -> None:
    """Where mamba-ssm is installed (CUDA only), its kernel and our scan agree in float32."""
    mamba = pytest.importorskip("mamba_ssm.ops.selective_scan_interface")
    if not torch.cuda.is_available():
        pytest.skip("mamba-ssm's kernel needs CUDA")
    inputs = [x.detach().float().cuda().requires_grad_()
              for x in random_inputs(2, 4, 16, 16, length, seed=3)]
    grad_y = torch.randn(2, 64, length, device="cuda")
    ours = values_and_gradients(selective_scan, inputs, grad_y)
    theirs = values_and_gradients(
        lambda *x: mamba.selective_scan_fn(x[0], x[1], x[2], x[3], x[4], x[5], z=None,
                                           delta_bias=x[6], delta_softplus=True),
        inputs, grad_y)
    assert_relative(ours, theirs, tolerance=1e-4)
