"""Create (or replace, by name) the automations declared in automations.yaml on the Prefect server.

Usage: `.venv/bin/python scripts/automations.py --block slack-webhook/nepse-alerts [--file F]
[--zombie-window SECONDS]` (PREFECT_API_URL names the server). The notification block must
exist already, e.g. created in the UI (Blocks -> Slack Webhook) or with
`SlackWebhook(url=...).save("nepse-alerts")`. `--zombie-window` replaces the zombie
automation's window (how long a Running run may send no heartbeat), e.g. in a test.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PLACEHOLDER = "{{ block_document_id }}"
ZOMBIE_ACTION = "change-flow-run-state"


def declared(
    path: Path, block_document_id: str, *, zombie_window: float | None = None
) -> list[dict[str, Any]]:
    """The automations of `path` with the notification block's id filled in (and the zombie
    automation's window replaced when `zombie_window` is given)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for item in data["automations"]:
        for action in item.get("actions", []):
            if action.get("block_document_id") == PLACEHOLDER:
                action["block_document_id"] = block_document_id
        if zombie_window is not None and any(
            a.get("type") == ZOMBIE_ACTION for a in item.get("actions", [])
        ):
            item["trigger"]["within"] = zombie_window
        out.append(item)
    return out


def create_all(path: Path, block: str, *, zombie_window: float | None = None) -> list[str]:
    """Replace the server's automations of the same names with those of `path`; their ids."""
    from prefect.automations import Automation
    from prefect.blocks.core import Block

    block_id = str(Block.load(block)._block_document_id)
    ids = []
    for item in declared(path, block_id, zombie_window=zombie_window):
        with contextlib.suppress(ValueError):  # not there yet
            Automation.read(name=item["name"]).delete()
        ids.append(str(Automation.model_validate(item).create().id))
    return ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--block", required=True, help="notification block 'type-slug/name'")
    ap.add_argument("--file", type=Path, default=REPO / "automations.yaml")
    ap.add_argument(
        "--zombie-window",
        type=float,
        default=None,
        help="seconds without a heartbeat before a Running run is marked Crashed",
    )
    args = ap.parse_args()
    for name, id_ in zip(
        (a["name"] for a in declared(args.file, "x")),
        create_all(args.file, args.block, zombie_window=args.zombie_window),
        strict=True,
    ):
        print(f"created automation {name!r}: {id_}")


if __name__ == "__main__":
    main()
