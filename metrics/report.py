"""Writing and showing results: the --json file, the --csv file and the terminal table."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from adcommon.atomic import write_all_atomic
from metrics.keys import METRIC_KEYS, ScoreResult


def check_destination(path: Path) -> None:
    """Raise OSError unless `path` can be written: its folder exists and is writable and
    `path` itself is not a folder (checked before any work, so no output is half-made)."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder")
    if not folder.is_dir():
        raise FileNotFoundError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: folder {folder} is not writable")


def write_files(texts: dict[Path, str]) -> None:
    """Write every file or none (`adcommon.atomic.write_all_atomic`), UTF-8 text."""
    write_all_atomic({Path(path): text.encode() for path, text in texts.items()})


def to_json(result: ScoreResult) -> str:
    """The --json text: the result dict, keys in METRIC_KEYS order, 2-space indent."""
    return json.dumps(result, indent=2, allow_nan=False) + "\n"


def write_json(result: ScoreResult, path: Path | str) -> None:
    """Write `score_folders`' result as the `adbench score --json` file, atomically."""
    write_files({Path(path): to_json(result)})


def write_csv(result: ScoreResult, path: Path | str) -> None:
    """The --csv file (`to_csv`), atomically."""
    write_files({Path(path): to_csv(result)})


def to_csv(result: ScoreResult) -> str:
    """One row per class plus `mean`: class, then every metric key (values in [0, 1],
    empty where undefined)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", *METRIC_KEYS])
    rows = [*result["classes"].items(), ("mean", result["mean"])]
    for name, values in rows:
        writer.writerow([name, *("" if values[k] is None else repr(values[k])
                                 for k in METRIC_KEYS)])
    return buffer.getvalue()


def format_table(result: ScoreResult) -> str:
    """Classes as rows, metrics as columns, the mean row last, percent with one decimal
    ("-" where undefined)."""
    rows: list[tuple[str, Mapping[str, object]]] = [
        *result["classes"].items(), ("mean", result["mean"])]

    def percent(value: object) -> str:
        return "-" if value is None else f"{100 * cast(float, value):.1f}"

    cells = [["class", *METRIC_KEYS]]
    cells += [[name, *(percent(v[k]) for k in METRIC_KEYS)] for name, v in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    rule = "-" * len(line(cells[0]))
    body = [line(row) for row in cells[1:-1]]
    return "\n".join([line(cells[0]), rule, *body, rule, line(cells[-1])])


def summary_line(result: ScoreResult) -> str:
    """How many classes and normal / anomalous images were scored, and the definition."""
    normal = sum(c["normal"] for c in result["counts"].values())
    anomalous = sum(c["anomalous"] for c in result["counts"].values())
    return (f"scored {normal + anomalous} maps in {len(result['counts'])} class(es): "
            f"{anomalous} anomalous, {normal} normal images (definition "
            f"{result['definition']})")
