"""Walk-forward evaluation of the LightGBM model and its baselines, out of sample only.

- `plan`: the panel as arrays, cut into blocks; each block's segments come from
  `nepse.model.segments` (the final model's arithmetic too).
- `jobs`: a job (one block x seed fit, or one group of baseline blocks) and the data it reads;
  a job needs nothing but its arguments, so it runs in any process on any host.
- `executors`: where jobs run: `InProcess` (tests, notebooks) or `DaskExecutor` (the flow).
- `checkpoint`: each job's result saved by the driver as it returns; a killed run resumes.
- `summary`: daily metrics, summary, importance: the `WalkForwardResult`.
- `driver`: `walk_forward`, the one driver: plan, skip what is checkpointed, run the rest on
  the executor, checkpoint each result, summarise.
"""

from nepse.model.walkforward.driver import Progress, walk_forward
from nepse.model.walkforward.executors import DaskExecutor, Executor, InProcess, executor_for
from nepse.model.walkforward.summary import METRIC_COLUMNS, MODEL, WalkForwardResult

__all__ = [
    "METRIC_COLUMNS",
    "MODEL",
    "DaskExecutor",
    "Executor",
    "InProcess",
    "Progress",
    "WalkForwardResult",
    "executor_for",
    "walk_forward",
]
