"""Time nepse.sources.readers.read_path over the real NEPSE folders."""

from __future__ import annotations

import os
import time
from pathlib import Path

from nepse.sources.readers import read_path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NEPSE_SHARED_DATA", REPO.parent / "shared" / "data" / "nepse"))

TARGETS = ("sharesansar-company-wise", "legacy-nepalstock", "nepse-api-2025-08-30/CompanyList.csv")


def main(repeats: int = 3) -> None:
    """Print the best wall and CPU time of `repeats` reads of each real-data folder."""
    for target in TARGETS:
        path = SHARED_DATA / target
        if not path.exists():
            print(f"{target}: not found under {SHARED_DATA}")
            continue
        wall, cpu = [], []
        for _ in range(repeats):
            w, c = time.perf_counter(), time.process_time()
            result = read_path(path)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        print(
            f"{target}: {len(result.sources)} files, {result.prices.height:,} prices, "
            f"{result.rejects.height} rejects, {result.corporate_actions.height} actions, "
            f"{result.securities.height} securities; best wall {min(wall):.2f}s, "
            f"cpu {min(cpu):.2f}s"
        )


if __name__ == "__main__":
    main()
