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

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adbench.report.sources import ReportInputs

__all__ = ["write_folder_report", "write_report"]


def write_report(run_dir: Path | str, out: Path | str, meta: Path | str | None = None,
                 images: Path | str | None = None, **options: Any) -> Path:
    """The report of a run folder, written to `out` (options: `build.build_report`'s)."""
    from adbench.report.sources import inputs_from_run

    return _write(lambda: inputs_from_run(Path(run_dir), _path(meta), _path(images)), out,
                  options)


def write_folder_report(preds: Path | str, gts: Path | str, out: Path | str,
                        meta: Path | str | None = None, images: Path | str | None = None,
                        **options: Any) -> Path:
    """The report of maps PREDS against masks GTS, written to `out`."""
    from adbench.report.sources import inputs_from_folders

    return _write(lambda: inputs_from_folders(Path(preds), Path(gts), _path(meta),
                                              _path(images)), out, options)


def _write(gather: Callable[[], ReportInputs], out: Path | str,
           options: dict[str, Any]) -> Path:
    """Check the output and options before any work, then gather the inputs and build."""
    from adbench.report.build import build_report, check_output

    check_output(Path(out), options.get("resize", "none"), options.get("mask_threshold"))
    return build_report(gather(), Path(out), **options)


def _path(value: Path | str | None) -> Path | None:
    return None if value is None else Path(value)
