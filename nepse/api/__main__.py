"""`python -m nepse.api`: the API from NEPSE_* settings alone (containers, process managers).

The key comes from NEPSE_API_KEY here; a Prefect Secret block (NEPSE_API_KEY_BLOCK) is
resolved by `nepse api serve`, since the library never imports Prefect.
"""

from __future__ import annotations

import logging
import sys

from nepse.api.server import serve
from nepse.errors import ConfigError
from nepse.settings import load_settings


def main() -> int:
    """Serve until stopped; 2 with the reason when the settings forbid starting."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        settings = load_settings()
        if settings.api_key is None and settings.api_key_block:
            raise ConfigError(
                f"NEPSE_API_KEY_BLOCK={settings.api_key_block} names a Prefect Secret block, "
                "which `python -m nepse.api` cannot read: run `nepse api serve`, or set "
                "NEPSE_API_KEY"
            )
        serve(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
