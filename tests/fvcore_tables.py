"""Parameter tables as ADer's logs print them (fvcore's "#parameters or shape" column),
and the comparison of a model against their rows.

A row is `name value`: a count with three decimals in K (> 1e2) or M (> 1e5), a
parameter shape in parentheses, or `-` for a module without parameters (which a model
may lack: only its count, zero, is compared when it exists).
"""

from __future__ import annotations

import torch


def n_params(module: torch.nn.Module) -> int:
    """The number of parameter entries of `module`."""
    return sum(p.numel() for p in module.parameters())


def n_frozen(module: torch.nn.Module) -> int:
    """The number of parameter entries of `module` that do not require grad."""
    return sum(p.numel() for p in module.parameters() if not p.requires_grad)


def fvcore_size(count: int) -> str:
    """A parameter count as fvcore's tables print it: 3 decimals, K above 1e2, M above 1e5."""
    for unit, scale in (("M", 1e6), ("K", 1e3)):
        if count > scale / 10:
            return f"{count / scale:.3f}".rstrip("0").rstrip(".") + unit
    return str(count)


def table_rows(table: str) -> list[tuple[str, str]]:
    """`name value` lines -> [(name, value)]."""
    rows = []
    for line in table.strip().splitlines():
        name, value = line.split()
        rows.append((name, value))
    return rows


def table_mismatches(model: torch.nn.Module, rows: list[tuple[str, str]],
                     index_tables: bool = False) -> list[tuple[str, str, object]]:
    """(name, expected, got) for every row the model does not reproduce. Counted tensors:
    the parameters (buffers are not in ADer's tables), and with `index_tables` also the
    integer buffers of more than one element (MambaAD's scan orders, which ADer keeps as
    integer parameters)."""
    modules = dict(model.named_modules())
    parameters = dict(model.named_parameters())
    mismatches: list[tuple[str, str, object]] = []
    for name, expected in rows:
        if expected.startswith("("):
            shape = tuple(int(v) for v in expected.strip("()").split(",") if v)
            found = tuple(parameters[name].shape) if name in parameters else None
            if found != shape:
                mismatches.append((name, expected, found))
            continue
        target = model if name == "model" else modules.get(name, parameters.get(name))
        if target is None:
            if expected != "-":
                mismatches.append((name, expected, "missing"))
            continue
        tensors = [target] if isinstance(target, torch.nn.Parameter) else [
            *target.parameters(),
            *(b for b in target.buffers() if index_tables and not b.is_floating_point()
              and b.numel() > 1)]
        count = sum(t.numel() for t in tensors)
        got = "-" if expected == "-" and count == 0 else fvcore_size(count)
        if got != expected:
            mismatches.append((name, expected, got))
    return mismatches
