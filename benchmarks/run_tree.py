"""Run `adbench` from a given source tree, bypassing the editable install.

For comparing two commits' whole commands side by side in one `farm-bench` call
(docs/performance.md, "The fold on a quiet machine"):

    git worktree add /tmp/old OLD_COMMIT
    farm-bench -n 10 --vs "python benchmarks/run_tree.py /tmp/old score PREDS GTS --json B" \\
        -- python benchmarks/run_tree.py . score PREDS GTS --json A

An editable install maps `adbench` and its sibling packages to the checkout it was made
from, ahead of `sys.path`: its finder is dropped so the tree given comes first.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    tree = str(Path(sys.argv.pop(1)).resolve())
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, tree)
    import adbench
    from adbench.cli import main as adbench_main

    if not str(Path(adbench.__file__).resolve()).startswith(tree):
        raise SystemExit(f"adbench came from {adbench.__file__}, not from {tree}")
    sys.argv[0] = "adbench"
    adbench_main()


if __name__ == "__main__":
    main()
