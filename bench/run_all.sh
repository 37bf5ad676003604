#!/usr/bin/env bash
# Run every benchmark, then regenerate docs/benchmarks.md from bench/results/*.json.
#   bench/run_all.sh           everything (about an hour on 2 cores; 25M rows and 5,000 symbols)
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
if [ "$QUICK" = 1 ]; then
    $PY bench/features_vs_pandas.py --symbols 120 1200
    $PY bench/scale.py --symbols 500 --years 20 --train-symbols 500
else
    $PY bench/features_vs_pandas.py --symbols 120 1200 6000
    $PY bench/scale.py --symbols 5000 --years 20 --train-symbols 1000
fi
$PY bench/report.py
