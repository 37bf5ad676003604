"""Model files are sealed at save time and verified before LightGBM reads them.

LightGBM's parser aborts or segfaults on a truncated model.txt; each load here runs in a fresh
subprocess so that a signal would show as a negative return code instead of killing pytest.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from nepse.errors import ModelNotFoundError
from nepse.model import files
from nepse.model.final import SAVED_FILES, TrainedModel, train_final
from nepse.model.lgbm import MODEL_FILE
from nepse.settings import load_settings
from tests.unit.model.damage import CUTS, truncate_and_reseal, truncate_model_file
from tests.unit.model.panels import make_panel

ROOT = Path(__file__).resolve().parents[3]
LOAD = textwrap.dedent(
    """
    import sys
    from nepse.errors import ModelNotFoundError
    from nepse.model.final import TrainedModel
    for folder in sys.argv[1:]:
        try:
            TrainedModel.load(folder)
            print("loaded")
        except ModelNotFoundError as exc:
            print("ModelNotFoundError:", str(exc).replace(chr(10), " "))
    """
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    panel, features, categorical = make_panel(20, 90, n_noise=1, seed=7)
    days = panel.get_column("date").unique().sort().to_list()
    s = load_settings(valid_days=10, num_boost_round=15, early_stopping_rounds=5)
    model = train_final(
        panel, feature_names=features, categorical=categorical, settings=s, as_of=days[80]
    )
    return model.save(tmp_path_factory.mktemp("model") / "v1")


def load_in_subprocess(*folders: Path) -> subprocess.CompletedProcess:
    """Load each folder in one fresh interpreter; one output line per folder."""
    return subprocess.run(
        [sys.executable, "-c", LOAD, *map(str, folders)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manifest_lists_every_saved_file(saved):
    sums = json.loads((saved / files.MANIFEST_FILE).read_text())["sha256"]
    assert sorted(sums) == sorted(SAVED_FILES)
    assert sums[MODEL_FILE] == files.sha256_file(saved / MODEL_FILE)
    assert TrainedModel.load(saved).meta["best_iteration"] >= 1


@pytest.mark.slow  # loads in a fresh interpreter, where a crash would show (tests/conftest.py)
def test_truncated_model_txt_is_model_not_found_never_a_signal(saved, tmp_path):
    import shutil

    folders = []
    for keep in CUTS:
        folder = tmp_path / f"cut-{keep}"
        shutil.copytree(saved, folder)
        truncate_model_file(folder, keep)
        folders.append(folder)
    out = load_in_subprocess(*folders, saved)
    # A LightGBM abort or segfault would end the process with a negative code (a signal).
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr[-2000:])
    lines = out.stdout.strip().splitlines()
    assert len(lines) == len(folders) + 1
    for line in lines[:-1]:
        assert line.startswith("ModelNotFoundError:") and "corrupt" in line and MODEL_FILE in line
    assert lines[-1] == "loaded"  # the intact copy still loads


def test_one_flipped_byte_missing_file_or_manifest_is_model_not_found(saved, tmp_path):
    import shutil

    cases = {
        "flip": lambda f: (f / MODEL_FILE).write_bytes(
            (f / MODEL_FILE).read_bytes().replace(b"tree", b"trea", 1)
        ),
        "no model": lambda f: (f / MODEL_FILE).unlink(),
        "no manifest": lambda f: (f / files.MANIFEST_FILE).unlink(),
        "meta edited": lambda f: (f / "meta.json").write_text("{}"),
    }
    for name, damage in cases.items():
        folder = tmp_path / name
        shutil.copytree(saved, folder)
        damage(folder)
        with pytest.raises(ModelNotFoundError):
            TrainedModel.load(folder)


@pytest.mark.parametrize("keep", [0.05, 0.3, 0.5, 0.9, 0.97, 0.99, 0.999])
def test_a_truncated_model_consistent_with_its_manifest_is_refused_not_a_crash(
    saved, tmp_path, keep
):
    import shutil

    folder = tmp_path / f"resealed-{keep}"
    shutil.copytree(saved, folder)
    truncate_and_reseal(folder, keep)
    files.verify(folder, SAVED_FILES)  # the checksums cannot tell
    # In a fresh interpreter, so that a LightGBM abort would show as a signal, not kill pytest.
    out = subprocess.run(
        [sys.executable, "-c", LOAD, str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    line = out.stdout.strip()
    assert line.startswith("ModelNotFoundError:") and str(folder / MODEL_FILE) in line, line
    assert "matches its manifest" in line and "rollback" in line


def test_the_probe_refuses_a_model_that_crashes_the_parser_in_its_child(saved, tmp_path):
    from nepse.model.probe import probe

    text = (saved / MODEL_FILE).read_bytes()
    # Whole in layout (same length), but a tree's leaf count is wrong: only parsing tells.
    leaves = re.search(rb"num_leaves=(\d+)", text)
    broken = text[: leaves.start(1)] + b"9" * len(leaves.group(1)) + text[leaves.end(1) :]
    assert len(broken) == len(text)
    with pytest.raises(ModelNotFoundError, match=r"model file .* (crash|unreadable)"):
        probe(broken, source=saved / MODEL_FILE)
    probe(text, source=saved / MODEL_FILE)  # the intact text passes


def test_the_fallback_chain_scores_when_the_champion_file_is_cut_and_resealed(saved, tmp_path):
    import shutil

    import polars as pl

    from nepse.model.scoring import Candidate, score_with_fallback

    folder = tmp_path / "champion"
    shutil.copytree(saved, folder)
    truncate_and_reseal(folder, 0.5)
    model = TrainedModel.load(saved)
    day = date.fromisoformat(str(model.meta["as_of"]))
    features = pl.DataFrame({"symbol": ["A", "B"], "date": [day] * 2, "f_ret_1": [0.01, -0.02]})
    out = score_with_fallback(
        features, [Candidate("v-cut", "champion", lambda: TrainedModel.load(folder))]
    )
    assert out.model_role == "naive_baseline"
    assert "champion v-cut: ModelNotFoundError" in out.problems[0]
    assert "matches its manifest" in out.problems[0]
