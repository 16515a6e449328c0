"""The selective scan (Mamba's S6 recurrence) in plain PyTorch, with a memory-lean backward.

For every sequence b, channel h (in group g(h)), state index n and step t = 0..L-1
(docs/baselines.md, "MambaAD"):

    Delta_t = softplus(delta_t + delta_bias[h])
    x_t[n]  = exp(Delta_t * A[h, n]) * x_(t-1)[n] + Delta_t * u_t * B[g, n, t],   x_(-1) = 0
    y_t     = sum_n C[g, n, t] * x_t[n] + D[h] * u_t

B and C are shared by the channels of a group (MambaAD: one group per scan direction).
mamba-ssm computes this with a compiled CUDA kernel; here it is a chunked scan: L is cut
into chunks of T steps, the recurrence runs inside all chunks at once from a zero state
(T steps over tensors holding every chunk), the chunk-end states are carried across the
chunks (L / T small steps), and a second pass runs the recurrence again from each chunk's
true start state to produce y. That is the sequential loop re-associated: T + L / T
Python-level steps instead of L, each on a tensor of every chunk's state.

Memory is the point. A state-sized tensor (sequences, channels, N, L) is 4.3 GB for one
of MambaAD's stage-3 layers at 256 px and batch 16; autograd through the loops stores
several per step. `selective_scan` therefore runs the scan as a `torch.autograd.Function`
that keeps only its inputs and the chunk-start states (1/T of one state tensor). Its
backward carries the gradient across the chunks the same way (a local reverse pass, then
the chunk-to-chunk carry), then, for a group of chunks at a time, recomputes the states
inside them from their start states and walks back through the steps, accumulating every
input's gradient; the recomputed states of one group, at most `state_budget` elements, are
the largest transient (with a few state-sized work buffers of the same group).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from baselines.precision import no_autocast

#: Default upper bound (elements) on the states the backward recomputes at once: 2^28
#: floats = 1 GiB in float32. Fewer elements mean more, smaller steps.
DEFAULT_STATE_BUDGET = 2**28


def default_chunk(length: int) -> int:
    """Steps per chunk: ceil(sqrt(L)), which balances the in-chunk and across-chunk steps
    (for MambaAD's square grids, L = s^2, it is s)."""
    return math.isqrt(length - 1) + 1 if length > 1 else 1


@dataclass(frozen=True)
class _Layout:
    """Shapes of one scan and the step-major re-layout its loops work on.

    Sequences (b, G * D, L) become (T, b, G, D, n_chunks): index [t] is step t of every
    chunk; B and C (b, G, N, L) become (T, b, G, 1, n_chunks, N). L is padded with zeros
    to n_chunks * T; padded steps come after the real ones, so they change nothing.
    """

    batch: int
    groups: int
    channels: int  # per group
    state: int
    length: int
    chunk: int

    @property
    def n_chunks(self) -> int:
        return -(-self.length // self.chunk)

    @property
    def padding(self) -> int:
        return self.n_chunks * self.chunk - self.length

    def steps(self, x: Tensor) -> Tensor:
        """(b, G * D, L) -> (T, b, G, D, n_chunks), contiguous."""
        x = F.pad(x, (0, self.padding))
        x = x.reshape(self.batch, self.groups, self.channels, self.n_chunks, self.chunk)
        return x.permute(4, 0, 1, 2, 3).contiguous()

    def steps_shared(self, x: Tensor) -> Tensor:
        """(b, G, N, L) -> (T, b, G, 1, n_chunks, N), contiguous."""
        x = F.pad(x, (0, self.padding))
        x = x.reshape(self.batch, self.groups, self.state, self.n_chunks, self.chunk)
        return x.permute(4, 0, 1, 3, 2).unsqueeze(3).contiguous()

    def sequences(self, x: Tensor) -> Tensor:
        """Inverse of `steps`: (T, b, G, D, n_chunks) -> (b, G * D, L)."""
        x = x.permute(1, 2, 3, 4, 0).reshape(self.batch, self.groups * self.channels, -1)
        return x[..., : self.length].contiguous()

    def shared(self, x: Tensor) -> Tensor:
        """Inverse of `steps_shared`: (T, b, G, 1, n_chunks, N) -> (b, G, N, L)."""
        x = x.squeeze(3).permute(1, 2, 4, 3, 0).reshape(self.batch, self.groups, self.state, -1)
        return x[..., : self.length].contiguous()

    def chunk_groups(self, budget: int) -> list[slice]:
        """Consecutive chunk ranges whose recomputed states (T steps each) fit in `budget`
        elements (at least one chunk per range)."""
        per_chunk = self.chunk * self.batch * self.groups * self.channels * self.state
        size = max(1, budget // per_chunk)
        return [slice(start, min(start + size, self.n_chunks))
                for start in range(0, self.n_chunks, size)]


def _layout(u: Tensor, B: Tensor, chunk: int) -> _Layout:
    batch, channels, length = u.shape
    _, groups, state, _ = B.shape
    return _Layout(batch, groups, channels // groups, state, length, chunk)


ALL_CHUNKS = slice(None)


@dataclass(frozen=True)
class _Steps:
    """A scan's inputs in step-major layout, with the two per-step factors of the
    recurrence x_t = decay_t * x_(t-1) + drive_t. The loops write into preallocated
    buffers (`out`): on the CPU, a fresh state-sized tensor at every step (first-touch page
    faults) made them 1.5-2x slower; a GPU's caching allocator makes no difference."""

    u: Tensor  # (T, b, G, D, n_chunks)
    dt: Tensor  # (T, b, G, D, n_chunks): Delta, after softplus
    B: Tensor  # (T, b, G, 1, n_chunks, N)
    C: Tensor  # (T, b, G, 1, n_chunks, N)
    A: Tensor  # (G, D, 1, N)

    @classmethod
    def build(cls, layout: _Layout, u: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor
              ) -> _Steps:
        A = A.reshape(layout.groups, layout.channels, 1, layout.state)
        return cls(layout.steps(u), layout.steps(dt), layout.steps_shared(B),
                   layout.steps_shared(C), A)

    @property
    def n_steps(self) -> int:
        return self.u.shape[0]

    def state_buffer(self, chunks: slice = ALL_CHUNKS) -> Tensor:
        """An uninitialised (b, G, D, chunks, N) state."""
        batch, groups, channels, _ = self.u.shape[1:]
        n_chunks = len(range(self.u.shape[-1])[chunks])
        return self.u.new_empty(batch, groups, channels, n_chunks, self.A.shape[-1])

    def decay(self, t: int, chunks: slice, out: Tensor) -> Tensor:
        """exp(Delta_t * A) into `out` (b, G, D, chunks, N)."""
        return torch.mul(self.dt[t, ..., chunks, None], self.A, out=out).exp_()

    def drive(self, t: int, chunks: slice, out: Tensor) -> Tensor:
        """Delta_t * u_t * B_t into `out` (b, G, D, chunks, N)."""
        scaled = self.dt[t, ..., chunks] * self.u[t, ..., chunks]
        return torch.mul(scaled[..., None], self.B[t, ..., chunks, :], out=out)

    def chunk_decay(self) -> Tensor:
        """The decay over each whole chunk, exp(A * sum of its Delta): (b, G, D, n_chunks, N)."""
        return torch.exp(self.dt.sum(0)[..., None] * self.A)


def _chunk_starts(steps: _Steps) -> Tensor:
    """Every chunk's true start state (b, G, D, n_chunks, N): the zero-start recurrence inside
    all chunks at once gives their end states, which are then carried across the chunks."""
    ends, spare, decay = steps.state_buffer(), steps.state_buffer(), steps.state_buffer()
    steps.drive(0, ALL_CHUNKS, ends)
    for t in range(1, steps.n_steps):
        steps.drive(t, ALL_CHUNKS, spare).addcmul_(steps.decay(t, ALL_CHUNKS, decay), ends)
        ends, spare = spare, ends
    starts = torch.zeros_like(ends)
    chunk_decay = steps.chunk_decay()
    for c in range(1, ends.shape[-2]):
        torch.addcmul(ends[..., c - 1, :], chunk_decay[..., c - 1, :], starts[..., c - 1, :],
                      out=starts[..., c, :])
    return starts


def _outputs(steps: _Steps, starts: Tensor) -> Tensor:
    """y_t without the skip term, (T, b, G, D, n_chunks): the recurrence inside all chunks
    from their true start states."""
    outputs = steps.u.new_empty(steps.u.shape)
    state, spare = starts.clone(), steps.state_buffer()
    decay, product = steps.state_buffer(), steps.state_buffer()
    for t in range(steps.n_steps):
        steps.drive(t, ALL_CHUNKS, spare).addcmul_(steps.decay(t, ALL_CHUNKS, decay), state)
        state, spare = spare, state
        torch.sum(torch.mul(state, steps.C[t], out=product), -1, out=outputs[t])
    return outputs


class _LeanScan(torch.autograd.Function):
    """The chunked scan, keeping only its inputs and the chunk-start states for backward."""

    @staticmethod
    def forward(ctx, u: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor,
                chunk: int, state_budget: int) -> Tensor:
        layout = _layout(u, B, chunk)
        steps = _Steps.build(layout, u, dt, A, B, C)
        starts = _chunk_starts(steps)
        ctx.save_for_backward(u, dt, A, B, C, starts)
        ctx.layout, ctx.state_budget = layout, state_budget
        return layout.sequences(_outputs(steps, starts))

    @staticmethod
    def backward(ctx, grad_y: Tensor):
        u, dt, A, B, C, starts = ctx.saved_tensors
        layout: _Layout = ctx.layout
        steps = _Steps.build(layout, u, dt, A, B, C)
        grad_steps = layout.steps(grad_y)
        incoming = _incoming_gradients(steps, grad_steps)
        grads = _Gradients.zeros(steps)
        for chunks in layout.chunk_groups(ctx.state_budget):
            _backward_chunks(steps, grad_steps, starts[..., chunks, :],
                             incoming[..., chunks, :], chunks, grads)
        return (layout.sequences(grads.u), layout.sequences(grads.dt),
                grads.A.reshape(A.shape), layout.shared(grads.B), layout.shared(grads.C),
                None, None)


def _incoming_gradients(steps: _Steps, grad_steps: Tensor) -> Tensor:
    """dL/dx at each chunk's last step coming from the later chunks, (b, G, D, n_chunks, N).

    The reverse recurrence g_t = C_t dL/dy_t + decay_(t+1) g_(t+1) runs inside all chunks at
    once from zero (what each chunk sends to the state before it), then is carried back
    across the chunks."""
    sent, decay = torch.zeros_like(steps.state_buffer()), steps.state_buffer()
    for t in reversed(range(steps.n_steps)):
        sent.addcmul_(grad_steps[t, ..., None], steps.C[t]).mul_(steps.decay(t, ALL_CHUNKS, decay))
    incoming = torch.zeros_like(sent)
    chunk_decay = steps.chunk_decay()
    for c in range(sent.shape[-2] - 2, -1, -1):
        torch.addcmul(sent[..., c + 1, :], chunk_decay[..., c + 1, :], incoming[..., c + 1, :],
                      out=incoming[..., c, :])
    return incoming


@dataclass
class _Gradients:
    """Gradients in step-major layout, filled chunk group by chunk group."""

    u: Tensor
    dt: Tensor
    A: Tensor
    B: Tensor
    C: Tensor

    @classmethod
    def zeros(cls, steps: _Steps) -> _Gradients:
        return cls(torch.zeros_like(steps.u), torch.zeros_like(steps.dt),
                   torch.zeros_like(steps.A), torch.zeros_like(steps.B),
                   torch.zeros_like(steps.C))


def _backward_chunks(steps: _Steps, grad_steps: Tensor, starts: Tensor, incoming: Tensor,
                     chunks: slice, grads: _Gradients) -> None:
    """Gradients of the steps inside `chunks`: recompute their states from the start states,
    then walk back through the steps with the state gradient g_t = dL/dx_t."""
    states = starts.new_empty((steps.n_steps, *starts.shape))
    decay, drive = steps.state_buffer(chunks), steps.state_buffer(chunks)
    previous = starts
    for t in range(steps.n_steps):
        torch.addcmul(steps.drive(t, chunks, drive), steps.decay(t, chunks, decay), previous,
                      out=states[t])
        previous = states[t]
    g, product, scratch = incoming.clone(), drive, steps.state_buffer(chunks)
    through_decay_dt = torch.zeros_like(starts)  # sum over steps of dL/d(decay) decay Delta
    for t in reversed(range(steps.n_steps)):
        grad_y = grad_steps[t, ..., chunks]
        dt, u = steps.dt[t, ..., chunks], steps.u[t, ..., chunks]
        g.addcmul_(grad_y[..., None], steps.C[t, ..., chunks, :])
        torch.sum(torch.mul(states[t], grad_y[..., None], out=product), 2, keepdim=True,
                  out=grads.C[t, ..., chunks, :])
        torch.sum(torch.mul(g, (dt * u)[..., None], out=product), 2, keepdim=True,
                  out=grads.B[t, ..., chunks, :])
        g_b = torch.mul(g, steps.B[t, ..., chunks, :], out=product).sum(-1)
        grads.u[t, ..., chunks] = g_b * dt
        steps.decay(t, chunks, decay)
        through_decay = torch.mul(g, decay, out=product).mul_(states[t - 1] if t else starts)
        grads.dt[t, ..., chunks] = g_b * u + torch.mul(through_decay, steps.A, out=scratch).sum(-1)
        through_decay_dt.addcmul_(through_decay, dt[..., None])
        g.mul_(decay)
    grads.A += through_decay_dt.sum((0, 3), keepdim=True).squeeze(0)


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor,
                   delta_bias: Tensor, chunk: int | None = None,
                   state_budget: int = DEFAULT_STATE_BUDGET) -> Tensor:
    """The selective scan of the module docstring, as mamba-ssm's `selective_scan_fn(u,
    delta, A, B, C, D, delta_bias=delta_bias, delta_softplus=True)` defines it.

    u, delta: (b, G * D, L); A: (G * D, N) (negative: -exp(A_log)); B, C: (b, G, N, L);
    D, delta_bias: (G * D,). Computed in at least float32 whatever the autocast state;
    returns (b, G * D, L). `chunk`: steps per chunk (default ceil(sqrt(L)));
    `state_budget`: most state elements the backward recomputes at once.
    """
    with no_autocast(u):
        dtype = torch.promote_types(u.dtype, torch.float32)
        u, delta, A, B, C, D, delta_bias = (
            x.to(dtype) for x in (u, delta, A, B, C, D, delta_bias))
        dt = F.softplus(delta + delta_bias[:, None])
        y = _LeanScan.apply(u, dt, A, B, C, chunk or default_chunk(u.shape[-1]), state_budget)
        return y + D[:, None] * u
