"""`adbench report`: one self-contained HTML page about a run, to look at rather than read.

- `write_report(run_dir, out)`: a run folder (`config.json`, `maps/`, `gts/`).
- `write_folder_report(preds, gts, out, meta=None, images=None)`: maps against masks,
  as `adbench score` takes them.

Modules: `sources` (what to report), `analysis` (one class, one read of its files),
`bootstrap` (image-level intervals), `categories` (COCO-AD per category), `figures`
(matplotlib plots as SVG), `overlays` (example images), `page` (the HTML), `build`
(the whole). matplotlib is optional (`pip install 'adbench[report]'`). See
docs/report.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_folder_report", "write_report"]


def write_report(run_dir: Path | str, out: Path | str, meta: Path | str | None = None,
                 images: Path | str | None = None, **options: Any) -> Path:
    """The report of a run folder, written to `out` (options: `build.build_report`'s)."""
    from adbench.report.build import build_report, check_output
    from adbench.report.sources import inputs_from_run

    check_output(Path(out), options.get("resize", "none"), options.get("mask_threshold"))
    inputs = inputs_from_run(Path(run_dir), _path(meta), _path(images))
    return build_report(inputs, Path(out), **options)


def write_folder_report(preds: Path | str, gts: Path | str, out: Path | str,
                        meta: Path | str | None = None, images: Path | str | None = None,
                        **options: Any) -> Path:
    """The report of maps PREDS against masks GTS, written to `out`."""
    from adbench.report.build import build_report, check_output
    from adbench.report.sources import inputs_from_folders

    check_output(Path(out), options.get("resize", "none"), options.get("mask_threshold"))
    inputs = inputs_from_folders(Path(preds), Path(gts), _path(meta), _path(images))
    return build_report(inputs, Path(out), **options)


def _path(value: Path | str | None) -> Path | None:
    return None if value is None else Path(value)
