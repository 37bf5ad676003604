"""The `nepse` console script ends without Python's teardown, and nothing of the command is lost."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter importing the CLI (tests/conftest.py)


def _script(tmp_path, argv: list[str]) -> subprocess.CompletedProcess:
    marker = tmp_path / "atexit-ran"
    code = (
        "import atexit, sys\n"
        "from flows.cli import main\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        f"sys.argv = ['nepse', *{argv!r}]\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_exit_code_output_and_exit_handlers_survive(tmp_path):
    bad = _script(tmp_path, ["daily", "--as-of", "2026-13-01"])
    assert bad.returncode == 2, bad.stderr
    assert "dates are YYYY-MM-DD" in bad.stdout + bad.stderr
    assert (tmp_path / "atexit-ran").read_text() == "ran"
    ok = _script(tmp_path, ["--help"])
    assert ok.returncode == 0 and "daily" in ok.stdout
