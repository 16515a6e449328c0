"""The command-line surface of INTERFACES.md: every command exists, helps and versions."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from adbench import __version__
from adbench.cli import main as adbench_main
from cocoad.cli import main as cocoad_main

ADBENCH_COMMANDS = ("score", "report", "run-baseline", "leaderboard", "demo")
COCOAD_COMMANDS = ("build", "stats", "verify")


@pytest.mark.parametrize(
    ("group", "commands"), [(adbench_main, ADBENCH_COMMANDS), (cocoad_main, COCOAD_COMMANDS)]
)
def test_group_help_lists_every_command_of_the_interface(group, commands) -> None:
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.strip()}
    assert listed == set(commands)


@pytest.mark.parametrize(
    ("group", "command"),
    [(adbench_main, c) for c in ADBENCH_COMMANDS] + [(cocoad_main, c) for c in COCOAD_COMMANDS],
)
def test_every_command_has_help(group, command) -> None:
    result = CliRunner().invoke(group, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "--help" in result.output


@pytest.mark.parametrize("group", [adbench_main, cocoad_main])
def test_version(group) -> None:
    result = CliRunner().invoke(group, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


@pytest.mark.parametrize("module", ["adbench", "cocoad"])
def test_python_dash_m_runs_the_cli(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout


def test_only_the_console_entry_point_freezes_objects() -> None:
    """`adbench` as a process of its own leaves what is alive out of garbage collection;
    `main` called from another Python process (here, CliRunner) freezes nothing."""
    import gc
    before = gc.get_freeze_count()
    assert CliRunner().invoke(adbench_main, ["--help"]).exit_code == 0
    assert gc.get_freeze_count() == before
    probe = ("import gc, sys; from adbench.cli import console_main; sys.argv = ['adbench', "
             "'--version']\ntry:\n    console_main()\nexcept SystemExit:\n    pass\n"
             "print(gc.get_freeze_count() > 0)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert done.stdout.strip().endswith("True"), done.stderr


def test_metrics_and_cocoad_import_without_torch() -> None:
    """`metrics` and `cocoad` (and the adbench CLI's help) must work with torch absent."""
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None\n"
        "import metrics, cocoad, cocoad.cli, adbench.commands.score, adbench.cli\n"
        "from click.testing import CliRunner\n"
        "assert CliRunner().invoke(adbench.cli.main, ['--help']).exit_code == 0\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
