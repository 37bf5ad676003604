"""What every Prefect run of the service shares, beside its tasks: its settings (secrets from
Prefect blocks), the writer slot, its name, its events and its retry policy.

Dependencies: flows -> tasks -> runs -> nepse.app. Nothing here is a step of a run (those are
tasks calling nepse.app); this is how a run lives on a Prefect server.
"""

import nepse  # noqa: F401  (first: its process settings must precede polars and lightgbm)
