"""Shared by the cocoad CLI tests (test_cocoad_cli.py, test_cocoad_faults.py): running
the CLI in process, and a folder's files with their sizes and times.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cocoad.cli import main


def run(*args: str) -> tuple[int, str]:
    """`cocoad ARGS` in process: (exit code, output), which must hold no traceback."""
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}
