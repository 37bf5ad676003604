"""The daily run's non-Prefect work, part by part, in a fresh interpreter (prints JSON).

What `score-universe` and `check-drift` do, timed separately: imports, scoring_frame (features
of the scoring window), loading the champion, predict, the drift window's features (check-drift
builds them again), `import evidently`, and run_drift
(Evidently report + HTML).
Prefect is never imported here.

Run: `.venv/bin/python bench/daily_parts.py DATA_DIR AS_OF` (used by bench/daily_run.py).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from pathlib import Path

from common import measure

_T0 = time.perf_counter()


def main(data_dir: Path, as_of: date) -> dict:
    """Time each part; return {part: measure row}."""
    parts: dict[str, dict] = {}
    with measure("imports (nepse pipeline, registry)") as m:
        from nepse.features.panel import build_panel, calendar_of, scoring_frame
        from nepse.model import registry
        from nepse.settings import load_settings
        from nepse.store import open_store
    parts["imports"] = m.as_dict()
    s = load_settings(data_dir=data_dir)
    with open_store(s.database, read_only=True) as st:
        with measure("scoring_frame") as m:
            features = scoring_frame(st, s, as_of)
        parts["scoring_frame"] = {**m.as_dict(), "rows": features.height}
        with measure("load champion") as m:
            model = registry.load_model(st, None, models_dir=s.data_dir / "models")
        parts["load_model"] = m.as_dict()
        with measure("predict") as m:
            preds = model.predict(features)
        parts["predict"] = {**m.as_dict(), "rows": preds.height}
        with measure("drift window features (check-drift's build_panel)") as m:
            cal = calendar_of(st)
            start = cal.days[max(0, cal.day_no(as_of) - s.drift_window_days + 1)]
            current = build_panel(
                st, s, start=start, end=as_of, active_only=True, label=False
            ).frame
            current = current.join(
                preds.select("date", "symbol", "pred_ret"), on=["date", "symbol"], how="inner"
            )
        parts["drift_features"] = m.as_dict()
    with measure("import evidently") as m:
        import evidently
        import evidently.presets  # noqa: F401
    parts["import_evidently"] = m.as_dict()
    from nepse.monitoring.drift import run_drift

    with measure("run_drift (Evidently report + HTML)") as m:
        summary = run_drift(
            model.reference,
            current,
            features=[f for f in model.feature_names if f not in model.categorical],
            categorical=list(model.categorical),
            prediction="pred_ret",
            out_html=data_dir / "bench-drift.html",
            drift_share=s.drift_share_threshold,
        )
    parts["run_drift"] = {
        **m.as_dict(),
        "n_columns": summary.n_columns,
        "reference_rows": min(model.reference.height, 20_000),
        "current_rows": current.height,
    }
    parts["process_total"] = {"wall_s": round(time.perf_counter() - _T0, 3)}
    return parts


if __name__ == "__main__":
    out = main(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]))
    print("JSON:" + json.dumps(out))
