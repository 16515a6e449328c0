"""The report's memory bound, shared out among its scorers (docs/report.md, "Cost").

`Memory(max_memory, tmp)`: the GiB the report's `metrics.Scorer`s may hold together
(None: no bound) and the folder they spill to beyond it. The results are identical
whether or not anything is spilled (the scorer's guarantee).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metrics import Scorer

DEFAULT_MAX_MEMORY = 4.0  # GiB, as `adbench score`


@dataclass(frozen=True)
class Memory:
    """A memory bound in GiB (None: unbounded) and the spill folder (None: the system's)."""

    max_memory: float | None = DEFAULT_MAX_MEMORY
    tmp: Path | None = None

    def share(self, fraction: float) -> Memory:
        """`fraction` of this bound, spilling to the same folder."""
        return Memory(None if self.max_memory is None else self.max_memory * fraction,
                      self.tmp)

    def scorer(self) -> Scorer:
        """A scorer held within this bound."""
        return Scorer(max_memory=self.max_memory, tmp=self.tmp)
