"""The run pipeline behind `adbench run-baseline`: data -> train -> maps -> metrics -> rows.

- `config`: `RunConfig`, one field per flag.
- `plan`: every check that can fail, before anything is written (`plan_run`).
- `rundir`: the unique run folder, config.json, what `--resume` may continue.
- `evaluation`: maps, evaluated masks, image scores, scoring per definition.
- `record`: the leaderboard rows.
- `run`: `run_baseline`, the order of work.
"""

from adbench.pipeline.config import RunConfig, RunSetupError
from adbench.pipeline.plan import RunPlan, plan_run
from adbench.pipeline.run import RunResult, RunWriteError, run_baseline

__all__ = ["RunConfig", "RunPlan", "RunResult", "RunSetupError", "RunWriteError", "plan_run",
           "run_baseline"]
