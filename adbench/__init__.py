"""adbench: the COCO-AD benchmark made real and fast; this package wires the others.

`cocoad` builds folds, `baselines` trains models, `metrics` scores anomaly maps and
`leaderboard` records results; `adbench` holds what connects them: the `adbench`
command, the run pipeline, the demo and the toy-data generators (docs/architecture.md).

The pipeline's Python API: `from adbench import RunConfig, run_baseline` (imported on
first use, so `import adbench` and `adbench --help` need no torch).
"""

from __future__ import annotations

from typing import Any

from adcommon import __version__

__all__ = ["RunConfig", "RunResult", "__version__", "run_baseline"]

_PIPELINE_NAMES = {"RunConfig", "RunResult", "run_baseline"}


def __getattr__(name: str) -> Any:
    if name in _PIPELINE_NAMES:
        from adbench import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'adbench' has no attribute {name!r}")
