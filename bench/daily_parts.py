"""What a daily run pays for imports, in a fresh interpreter (prints JSON).

`nepse daily` logs each step's own seconds (`step NAME: W s (CPU C s)`, tasks/common.timed);
what those lines cannot show is the import of the code before the flow starts. Timed here, in
order, each after the previous one: `prefect` (the orchestrator), `flows.daily` (the pipeline
modules it adds: polars, duckdb, lightgbm (which imports scikit-learn and pandas when installed),
the nepse packages) and `evidently` (after the pipeline, so without pandas and scikit-learn,
which LightGBM already imported; a daily run imports it in the Evidently side process,
nepse/monitoring/side.py, alone, where it costs 4.4-4.7 s).

Run: `.venv/bin/python bench/daily_parts.py` (used by bench/daily_run.py).
"""

from __future__ import annotations

import json
import sys

from common import REPO, measure

sys.path.insert(0, str(REPO))


def main() -> dict:
    """{part: measure row} for the three imports."""
    parts: dict[str, dict] = {}
    with measure("import prefect") as m:
        import prefect  # noqa: F401
    parts["import_prefect"] = m.as_dict()
    with measure("import flows.daily (the pipeline, after prefect)") as m:
        import flows.daily  # noqa: F401
    parts["import_pipeline"] = m.as_dict()
    with measure("import evidently (after the pipeline)") as m:
        import evidently
        import evidently.presets
        import evidently.ui.workspace  # noqa: F401
    parts["import_evidently"] = m.as_dict()
    return parts


if __name__ == "__main__":
    print("JSON:" + json.dumps(main()))
