"""The `adbench` command: score, report, run-baseline, leaderboard, demo.

One module per command in `adbench.commands`; each calls the package that does the
work. Nothing here imports torch, so `adbench score` and `--help` work without it.
"""

from __future__ import annotations

import click

from adbench import __version__
from adbench.commands.leaderboard import leaderboard_command
from adbench.commands.report import report_command
from adbench.commands.run_baseline import run_baseline_command
from adbench.commands.score import score_command
from adbench.demo import demo_command
from adcommon.cli import collect_only_new_objects


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="adbench")
def main() -> None:
    """Score, train and record anomaly detectors on COCO-AD and MVTec-style data."""


main.add_command(score_command)
main.add_command(report_command)
main.add_command(run_baseline_command)
main.add_command(leaderboard_command)
main.add_command(demo_command)


def console_main() -> None:
    """The `adbench` console script and `python -m adbench`: `main` in a process of its
    own, so what is alive after the imports and at exit is left out of garbage
    collection (`adcommon.cli.collect_only_new_objects`). From another Python process
    (tests, a notebook), call `main`: nothing of the caller's is frozen."""
    collect_only_new_objects()
    main()
