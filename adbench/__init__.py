"""adbench: the COCO-AD benchmark made real and fast.

The `adbench` command wires the other packages together: `cocoad` builds folds,
`baselines` trains models, `metrics` scores anomaly maps and `leaderboard` records
results. This package holds the CLI, the demo and the toy-data generators.
"""

__version__ = "0.1.0"
