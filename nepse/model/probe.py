"""Parse a LightGBM model text where a crash cannot take the run down: in a child process.

LightGBM's C++ parser aborts (SIGABRT) or segfaults on a model text that is cut short, and a
checksum only proves the file is the one written, not that the writer finished it. So before
the run's own process parses a model, `probe(text)` checks that the text is whole (LightGBM's
layout, tree sizes included: `incomplete`), then hands the same bytes to a child that loads
them through LightGBM's C API (ctypes on the library file: no Python package import, ~30 ms)
and predicts a few rows of zeros, missing and extreme values. A child killed by a signal, or
a LightGBM error, is a `ModelNotFoundError` naming the file and the signal, and the scoring
fallback chain (nepse/model/scoring.py) moves on. Run as a script it is that child:
`python -I -S probe.py LIBRARY` with the model text on stdin.
"""

from __future__ import annotations

import ctypes
import re
import signal
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = 120.0
"""Longest the child may take (a real model parses in well under a second)."""
_FIX = "retrain (`nepse train`) or roll back to the previous champion (`nepse models rollback`)"


def library() -> Path | None:
    """LightGBM's shared library as installed with the Python package (None if not found)."""
    import importlib.util

    spec = importlib.util.find_spec("lightgbm")
    if spec is None or spec.origin is None:
        return None
    found = sorted((Path(spec.origin).parent / "lib").glob("lib_lightgbm.*"))
    return found[0] if found else None


def incomplete(text: bytes) -> str | None:
    """Why a LightGBM model text is not whole (None when its layout is complete).

    The layout LightGBM writes: `tree` + header with `tree_sizes=` (the byte size of each tree
    block), the tree blocks `Tree=0`, `Tree=1`, ... of exactly those sizes, `end of trees`,
    feature importances, `parameters:` ... `end of parameters`, a last line. A text cut anywhere
    misses one of these, and some such texts load but crash later calls (the parameter section
    is read past its end: undefined behaviour no probe can be sure to reproduce).
    """
    if not text.startswith(b"tree\n"):
        return "it does not start with LightGBM's 'tree' header"
    found = re.search(rb"^tree_sizes=([0-9 ]*)$", text, re.MULTILINE)
    if found is None:
        return "its header has no tree_sizes line"
    at = text.find(b"\nTree=0\n") + 1
    sizes = [int(x) for x in found.group(1).split()]
    if at == 0 and sizes:
        return "it holds no tree"
    for i, size in enumerate(sizes):
        if not text.startswith(b"Tree=%d\n" % i, at) or at + size > len(text):
            return f"tree {i} of {len(sizes)} is cut short or misplaced"
        at += size
    if not text.startswith(b"end of trees\n", at):
        return "'end of trees' does not follow the last tree"
    tail = text[at:]
    if b"\nparameters:\n" in tail and b"\nend of parameters\n" not in tail:
        return "its parameter section has no end"
    if not text.endswith(b"\n"):
        return "its last line is cut short"
    return None


def probe(text: bytes, *, source: Path) -> None:
    """ModelNotFoundError unless `text` is a whole model that a child process parses and
    predicts with."""
    from nepse.errors import ModelNotFoundError

    why = incomplete(text)
    if why is not None:
        raise ModelNotFoundError(
            f"model file {source} is incomplete although it matches its manifest ({why}): it "
            f"was written cut short or by another tool; not loaded; {_FIX}"
        )
    lib = library()
    if lib is None:
        raise ModelNotFoundError(f"LightGBM's library was not found to check {source}")
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", __file__, str(lib)],
            input=text,
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelNotFoundError(
            f"model file {source}: LightGBM did not finish parsing it in {TIMEOUT_S:g} s; "
            f"not loaded; {_FIX}"
        ) from exc
    if done.returncode == 0:
        return
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise ModelNotFoundError(
            f"model file {source} makes LightGBM's parser crash ({name}) although it matches "
            f"its manifest: it was written incomplete or by another tool; not loaded; {_FIX}"
        )
    last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no message)"]
    raise ModelNotFoundError(f"model file {source} is unreadable ({last[0]}); {_FIX}")


def _child(lib_path: str) -> int:
    """Load the model text on stdin with LightGBM's C API and predict probe rows."""
    text = sys.stdin.buffer.read()
    lib = ctypes.cdll.LoadLibrary(lib_path)
    lib.LGBM_GetLastError.restype = ctypes.c_char_p

    def check(rc: int, what: str) -> None:
        if rc != 0:
            sys.stderr.write(f"{what}: {lib.LGBM_GetLastError().decode('utf-8', 'replace')}\n")
            raise SystemExit(2)

    handle = ctypes.c_void_p()
    iterations = ctypes.c_int()
    check(
        lib.LGBM_BoosterLoadModelFromString(
            ctypes.c_char_p(text), ctypes.byref(iterations), ctypes.byref(handle)
        ),
        "load",
    )
    features = ctypes.c_int()
    check(lib.LGBM_BoosterGetNumFeature(handle, ctypes.byref(features)), "features")
    ncol = max(features.value, 1)
    values = [0.0, float("nan"), 1e300, -1e300, 1.0, -1.0, 1e-300, 123456.789]
    rows = [[v] * ncol for v in values] + [
        [values[(i + j) % 8] for j in range(ncol)] for i in range(8)
    ]
    data = (ctypes.c_double * (len(rows) * ncol))(*[v for r in rows for v in r])
    want = ctypes.c_int64()
    check(lib.LGBM_BoosterCalcNumPredict(handle, len(rows), 0, 0, -1, ctypes.byref(want)), "size")
    out = (ctypes.c_double * max(want.value, 1))()
    got = ctypes.c_int64()
    check(
        lib.LGBM_BoosterPredictForMat(
            handle, data, 1, len(rows), ncol, 1, 0, 0, -1, b"", ctypes.byref(got), out
        ),
        "predict",
    )
    lib.LGBM_BoosterFree(handle)
    sys.stdout.write(f"ok {ncol} features {iterations.value} iterations\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1]))
