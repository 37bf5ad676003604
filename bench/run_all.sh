#!/usr/bin/env bash
# Run every benchmark, then regenerate docs/benchmarks.md from bench/results/*.json.
#   bench/run_all.sh           everything (about two hours on 2 cores: 25M rows, 5,000 symbols,
#                              ten first runs, the 2019-2026 walk-forward three times: 3 seeds
#                              on 2 workers and serially, 1 seed serial / 2 workers / remote)
#   bench/run_all.sh --quick   small sizes only (no 25M-row features, a 500-symbol scale run)
# Needs the real data in ../shared/data/nepse (or NEPSE_SHARED_DATA) for the real-data parts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

echo "machine: $(nproc) cores; $(uptime)"
$PY bench/ingest_real.py --repeats 2
$PY bench/prefect_overhead.py --repeats 2
$PY bench/daily_run.py --years 15 5 2 1 --repeats 2
$PY bench/model_vs_rf.py --blocks 4 --block-days 63
$PY bench/drift_alarms.py --json bench/results/drift_alarms.json
$PY bench/kernels.py --symbols 120 --repeats 5
if [ "$QUICK" = 1 ]; then
    $PY bench/first_run.py --tries 2
    $PY bench/bench_walkforward.py --start 2025-10-01 --levers
    $PY bench/features_vs_pandas.py --symbols 120 1200
    $PY bench/scale.py --symbols 500 --years 20 --train-symbols 500
else
    $PY bench/first_run.py --tries 10
    $PY bench/bench_walkforward.py --start 2025-10-01 --levers
    $PY bench/bench_walkforward.py --start 2019-01-01 --modes dask2 --name walkforward-full
    $PY bench/bench_walkforward.py --start 2019-01-01 --modes serial --name walkforward-full-serial
    $PY bench/bench_walkforward.py --start 2019-01-01 --seeds 0 --retrain-every 63 \
        --modes serial,dask2,remote --name walkforward-remote
    $PY bench/features_vs_pandas.py --symbols 120 1200 6000
    $PY bench/scale.py --symbols 5000 --years 20 --train-symbols 1000
fi
$PY bench/api_load.py
$PY bench/report.py
