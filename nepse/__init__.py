"""NEPSE prediction service: the domain library (no orchestration; never imports prefect)."""

import os

# LightGBM's OpenMP threads spin while they wait. On a machine whose cores are busy with other
# work that spinning steals the cores they wait for: 2 threads trained 10x slower than 1 on
# the shared 2-core box (docs/model.md). Passive waiting removes that cliff and costs little
# on an idle machine. Must be set before lightgbm is first imported; an explicit value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
