"""The code location's executor: multiprocess, each step forked from a preloaded forkserver.

Dagster's default multiprocess executor *spawns* one fresh interpreter per
step, and each one imports the whole stack (dagster, pyarrow, pandas, duckdb,
httpx, the code location) before doing a few seconds of work: a day's
10-asset run spent most of its wall time importing (benchmarks/RESULTS.md,
"Per-run overhead"). With ``forkserver`` and ``fleet_assets.definitions``
preloaded, a run imports the stack once, in its forkserver, and every step is
a cheap fork of it. Steps still run in their own processes, in parallel, so
one provider's failure still fails only its branch.
"""

import dagster as dg

PRELOAD = ["fleet_assets.definitions"]

fleet_executor = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": PRELOAD}}}, name="fleet_multiprocess_executor"
)
