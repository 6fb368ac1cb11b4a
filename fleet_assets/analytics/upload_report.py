"""What one partition's upload did: filled in by id resolution, delivery and the uploader; read by the CLI and
the asset's metadata."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet_assets.analytics.ledger_queries import LedgerPosition


@dataclass
class UploadReport:
    partition_key: str
    endpoint: str
    records_in_partition: dict[str, int] = field(default_factory=dict)
    records_sent: dict[str, int] = field(default_factory=dict)
    already_acknowledged: dict[str, int] = field(default_factory=dict)
    batches_planned: int = 0
    batches_completed: int = 0
    dead_lettered: int = 0
    requests: int = 0
    retries: int = 0
    configurations_created: int = 0
    messages_created: int = 0
    position: LedgerPosition | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # ids (incl. GPS/stats records) / records+send
