"""Every setting of an analytics upload, declared once.

``UploadSettings`` is the single definition: name, type, default, bounds and
help of each setting. The Dagster resource's fields (``analytics.resources``)
and the CLI's flags (``analytics.cli``) are both derived from it, so a default
or a description cannot drift between them (a test checks). Field metadata
(``json_schema_extra``) says how a setting appears outside Python:

- ``flag``: the CLI flag (``None``: not on the command line, e.g. the token,
  which other users could read in ``ps``; the CLI takes ``--token-env``);
- ``env``: the environment variable(s) the code location binds it to.

Plain pydantic, no Dagster: the uploader is a library.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from fleet_assets.analytics.identity import INT32_MAX, VehicleIds
from fleet_assets.settings import ANALYTICS_ENDPOINT_ENV_VARS, ANALYTICS_TOKEN_ENV_VAR


def _meta(flag: str | None, env: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"flag": flag, "env": list(env)}


class VehicleIdsSetting(BaseModel):
    """Explicit IcsAnalytics ids for one vehicle (VIN, or ``provider:provider_vehicle_id`` when VIN-less)."""

    device_id: int
    vehicle_id: int
    fleet_id: int
    organization_id: int


class UploadSettings(BaseModel):
    """Where and how the analytics upload talks GraphQL (IcsAnalytics-compatible)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- backend
    endpoint: Optional[str] = Field(
        default=None, json_schema_extra=_meta("--endpoint", ANALYTICS_ENDPOINT_ENV_VARS),
        description="GraphQL URL, e.g. http://127.0.0.1:8765/graphql; None = the embedded sandbox backend "
                    "(in-process, data kept in FLEET_DATA_DIR/analytics_sandbox.sqlite, the store `make dev` serves).")
    backend_id: Optional[str] = Field(
        default=None, json_schema_extra=_meta("--backend-id"),
        description="The backend's identity in the upload ledger (default: the normalised endpoint URL). Give "
                    "every URL of one backend (localhost vs 127.0.0.1, a proxy) the same value.")
    backend_generation: Optional[str] = Field(
        default=None, json_schema_extra=_meta("--backend-generation"),
        description="Set a new value (e.g. the date) after the backend was reset or wiped: the ledger then treats "
                    "it as a new backend and every day materialized is sent again.")
    auth_token: Optional[str] = Field(
        default=None, json_schema_extra=_meta(None, (ANALYTICS_TOKEN_ENV_VAR,)),
        description=f"JWT sent as 'Authorization: Bearer'; bind with dg.EnvVar('{ANALYTICS_TOKEN_ENV_VAR}').")
    # -- batching. The byte cap is what bounds a request (backend memory, time per request); the point cap is a
    # second guard for tiny points. IcsAnalytics 26.3.3 sends GPS in chunks of 10000 points (~2.5 MB) and a whole
    # day of one signal in ONE request. 4 MB holds ~16k GPS points or ~70k signal points; fewer, larger requests
    # cost the backend less per record (benchmarks/RESULTS.md).
    max_points_per_request: int = Field(default=50_000, ge=1, json_schema_extra=_meta("--max-points"),
                                        description="Data points per request at most.")
    max_bytes_per_request: int = Field(default=4_000_000, ge=1024, json_schema_extra=_meta("--max-bytes"),
                                       description="Request body bytes at most.")
    # 2 overlaps our packing/ledger work with the backend's processing (measured: benchmarks/RESULTS.md).
    max_in_flight: int = Field(
        default=2, ge=1, le=8, json_schema_extra=_meta("--max-in-flight"),
        description="Requests outstanding at once (acks are recorded in order); 1 = one at a time.")
    coalesce_mutations: bool = Field(
        default=True, json_schema_extra=_meta("--coalesce-mutations"),
        description="Send configurations, GPS per vehicle and network stats several per request as aliased "
                    "fields of the reference mutation; False = IcsAnalytics' exact documents.")
    # Gateways often cap aliases (GraphQL Armor: 15 by default); a document the backend refuses anyway is split
    # until it passes, so this only saves wasted requests.
    max_aliases_per_request: int = Field(
        default=15, ge=1, le=200, json_schema_extra=_meta("--max-aliases"),
        description="Aliased fields per coalesced document at most (gateways often limit aliases).")
    # Each dead letter costs ~log2(batch) bisection requests; the unresolved records of the batch in progress
    # stay pending (nothing is dropped).
    max_dead_letters: int = Field(
        default=100, ge=0, json_schema_extra=_meta("--max-dead-letters"),
        description="Rejected records one run may dead-letter; past it the run fails (a backend refusing "
                    "everything is not a day of bad records).")
    # A day is read, built and sent in shards of whole vehicles (analytics.day_shards): memory follows the shard,
    # not the day. An edge event becomes up to 6 signal records (~1.1 kB each while built, packed and sent):
    # 100k rows peak at ~0.8 GB (benchmarks/RESULTS.md, "A day of edge events in bounded memory"). Shard k+1
    # is built while shard k is sent, so two shards are in memory: 50k rows each.
    shard_rows: int = Field(
        default=50_000, ge=1, json_schema_extra=_meta("--shard-rows"),
        description="Input rows (telemetry + edge events + DTCs) per shard; a larger day is split by vehicle "
                    "and sent shard by shard.")
    # -- requests
    timeout_seconds: float = Field(default=30.0, gt=0, json_schema_extra=_meta("--timeout"),
                                   description="Per-request timeout in seconds.")
    max_attempts: int = Field(default=6, ge=1, json_schema_extra=_meta("--max-attempts"),
                              description="Attempts per request for transient failures.")
    backoff_initial_seconds: float = Field(default=0.5, ge=0, json_schema_extra=_meta("--backoff"),
                                           description="First retry delay in seconds (doubles).")
    backoff_max_seconds: float = Field(default=30.0, ge=0, json_schema_extra=_meta("--backoff-max"),
                                       description="Longest retry delay in seconds.")
    verify_ssl: bool = Field(default=True, json_schema_extra=_meta("--verify-ssl"),
                             description="Verify the endpoint's TLS certificate.")
    # "sample": the document, every group header and each group's first point: catches schema drift at a
    # fraction of the cost; the backend still rejects a bad individual point, which is then bisected out.
    validate_payloads: Literal["full", "sample", "off"] = Field(
        default="sample", json_schema_extra=_meta("--validate"),
        description="Pre-flight SDL check: every point (full), the document + every group header + each group's "
                    "first point (sample), or none (off).")
    # -- ids
    fleet_id: int = Field(default=1, ge=0, le=INT32_MAX, json_schema_extra=_meta("--fleet-id"),
                          description="IcsAnalytics fleetId (GraphQL Int).")
    organization_id: int = Field(default=1, ge=0, le=INT32_MAX, json_schema_extra=_meta("--organization-id"),
                                 description="IcsAnalytics organizationId.")
    vehicle_ids: dict[str, VehicleIdsSetting] = Field(
        default_factory=dict, json_schema_extra=_meta("--vehicle-ids"),
        description="Explicit ids per VIN / provider:id, e.g. {\"1FT...\": {\"device_id\": 7, \"vehicle_id\": 7, "
                    "\"fleet_id\": 1, \"organization_id\": 1}}; other vehicles get a stable 31-bit hash.")
    # -- ledger
    ledger_lock_timeout_seconds: float = Field(
        default=60.0, gt=0, json_schema_extra=_meta("--ledger-lock-timeout"),
        description="How long to wait for a ledger locked elsewhere, in seconds.")

    def vehicle_overrides(self) -> dict[str, VehicleIds]:
        return {key: VehicleIds(**ids.model_dump()) for key, ids in self.vehicle_ids.items()}


def setting_meta(name: str) -> dict[str, Any]:
    """The ``flag`` / ``env`` metadata of one setting."""
    return UploadSettings.model_fields[name].json_schema_extra  # type: ignore[return-value]
