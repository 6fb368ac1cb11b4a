"""TEMPORARY alias of the old ``fleet_assets.pipeline.schedules`` path (issue 13: renamed ``provider_ingest``).

Only the analytics area still imports it, on a branch merged after this one;
the lead deletes this package once those imports are fixed (see the move map
in the issue-13 report). Nothing else may import ``fleet_assets.pipeline``
(``fleet_assets_tests/test_layering.py`` checks it).
"""

import sys

from fleet_assets.provider_ingest import schedules

sys.modules[f"{__name__}.schedules"] = schedules
