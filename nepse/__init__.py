"""NEPSE prediction service: the domain library (no orchestration; never imports prefect)."""

import os

# LightGBM's OpenMP threads spin while they wait. On a machine whose cores are busy with other
# work that spinning steals the cores they wait for: 2 threads trained 10x slower than 1 on
# the shared 2-core box (docs/model.md). Passive waiting removes that cliff and costs little
# on an idle machine. Must be set before lightgbm is first imported; an explicit value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Polars' allocator (jemalloc) gives freed memory back to the kernel after 0.5-1 s (polars sets
# dirty/muzzy decay 500/1000 ms); a feature build that frees and re-allocates its work columns
# then takes a page fault again for every page, and faults are dear on a VM (~2-5 us each
# here). jemalloc's own default, 10 s, halves the faults of the 5 M-row chunked build (1.3 M ->
# 0.65 M) and cuts it 8.5 -> 7.0 s (bench/FINDINGS.md). Freed memory is still returned, 10 s
# later. Polars appends this variable to its own settings, so it must be set before polars is
# first imported (flows/ and tasks/ import nepse first); an explicit value wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:10000,muzzy_decay_ms:10000")

__version__ = "0.1.0"
