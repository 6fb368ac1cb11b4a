"""Pure transforms: provider wire records (Arrow) -> unified telemetry (Arrow).

No I/O, no Dagster: asset bodies call these and own the reading and writing.
"""

from fleet_assets.transforms.dedup import PROVIDER_PRIORITY, DedupResult, dedup_telemetry, vehicle_identity
from fleet_assets.transforms.errors import MalformedRecordsError
from fleet_assets.transforms.motive import normalize_motive
from fleet_assets.transforms.samsara import normalize_samsara

__all__ = [
    "PROVIDER_PRIORITY",
    "DedupResult",
    "MalformedRecordsError",
    "dedup_telemetry",
    "normalize_motive",
    "normalize_samsara",
    "vehicle_identity",
]
