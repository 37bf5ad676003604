"""The store receives validated data: it never imports the ingest or source stages."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_store_imports_neither_ingest_nor_sources():
    code = (
        "import sys, nepse.store, nepse.store.prices, nepse.store.observations\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('nepse.ingest', 'nepse.sources')))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
