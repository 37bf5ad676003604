"""Project-wide rules: the domain library never imports Prefect; lint is clean."""

from __future__ import annotations

import pkgutil
import re
import shutil
import subprocess
import sys

import pytest

import nepse
from tests.conftest import REPO


def test_nepse_library_never_imports_prefect():
    modules = [m.name for m in pkgutil.walk_packages(nepse.__path__, "nepse.")]
    assert len(modules) >= 5
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k == 'prefect' or k.startswith('prefect.'))\n"
        "print(bad[:5]); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"nepse/ pulled in prefect: {result.stdout}{result.stderr}"


def test_only_the_store_touches_duckdb():
    """Nothing outside nepse/store/ imports duckdb or runs SQL on a connection."""
    pattern = re.compile(r"^\s*(import duckdb|from duckdb)|\.con\.(execute|sql)|\._con\b", re.M)
    store = REPO / "nepse" / "store"
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("nepse", "flows", "tasks")
        for path in (REPO / folder).rglob("*.py")
        if store not in path.parents and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"DuckDB used outside nepse/store/: {offenders}"


def test_no_product_module_is_over_400_lines():
    sizes = {
        str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines())
        for folder in ("nepse", "flows", "tasks")
        for p in (REPO / folder).rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > 400} == {}


def test_tests_never_import_bench():
    """bench/ may import tests/ (the pandas reference, the chunked build); tests never bench/."""
    pattern = re.compile(r"^\s*(from|import)\s+bench\b|sys\.path\.\w+\(.*\bbench\b", re.M)
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "tests").rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == [], f"tests importing bench/: {offenders}"


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    check = subprocess.run([ruff, "check", "."], capture_output=True, text=True, cwd=REPO)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([ruff, "format", "--check", "."], capture_output=True, text=True, cwd=REPO)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_readme_documents_every_setting_and_the_two_commands():
    from nepse.settings import Settings

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"`NEPSE_{n.upper()}`" not in readme]
    assert not missing, f"README settings table lacks {missing}"
    assert "./run demo" in readme and "./run test" in readme
    assert "./run test" in (REPO / ".ci" / "run").read_text()


def _nepse_imports(path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n for n in names if n == "nepse" or n.startswith("nepse.")}


def test_tasks_are_thin_and_import_only_the_application_layer():
    """A task is settings -> one nepse.app call -> one log line -> the library's value: tasks/
    stays small and reaches the library only through nepse.app (runs/, the Prefect plumbing
    every run shares, likewise)."""
    files = sorted((REPO / "tasks").glob("*.py")) + sorted((REPO / "runs").glob("*.py"))
    outside = {
        str(p.relative_to(REPO)): sorted(
            m for m in _nepse_imports(p) if m != "nepse" and not m.startswith("nepse.app")
        )
        for p in files
    }
    assert {p: m for p, m in outside.items() if m} == {}
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in REPO.glob("tasks/*.py"))
    assert lines <= 500, f"tasks/ has {lines} lines"
