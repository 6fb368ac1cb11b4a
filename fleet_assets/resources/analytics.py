"""``AnalyticsResource``: where and how the analytics upload talks GraphQL.

Endpoint ``None`` means the embedded sandbox backend, run in-process over a
SQLite store in the data dir (``analytics_sandbox.sqlite``, the one ``make
dev`` also serves on loopback), so its data lives as long as the ledger's.
The ledger is scoped to a backend identity: ``backend_id`` if set, else the
normalised endpoint URL (the embedded store's own random id), plus
``backend_generation`` when set: changing it declares the backend was reset,
so every day is sent to it again. The bearer token is optional (current
IcsAnalytics backends accept unauthenticated requests; old ones want
``Authorization: Bearer $SEC_AUTH_TOKEN``); bind it with
``dg.EnvVar("SEC_AUTH_TOKEN")`` so it never appears in config or logs.
Vehicle → IcsAnalytics ids: ``vehicle_ids`` maps a VIN (or
``provider:provider_vehicle_id`` for VIN-less rows) to explicit ids; any
other vehicle gets device id = vehicle id = a stable 31-bit hash of its key,
with ``fleet_id`` / ``organization_id`` from here.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, Literal, NamedTuple, Optional

import dagster as dg
import httpx
from pydantic import Field

from fleet_assets.analytics.identity import VehicleIds
from fleet_assets.analytics.ledger import backend_identity
from fleet_assets.analytics.sandbox_server import AnalyticsSandbox, SandboxTransport
from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy
from fleet_assets.analytics.uploader import UploadSettings

SANDBOX_ENDPOINT = "sandbox://embedded/graphql"
SANDBOX_STORE = "analytics_sandbox.sqlite"  # under FLEET_DATA_DIR
ENDPOINT_ENV_VARS = ("GRAPH_SERVICE_URL", "GRAPH_ENDPOINT")  # IcsAnalytics' own, in its order


class VehicleIdsConfig(dg.Config):
    device_id: int
    vehicle_id: int
    fleet_id: int
    organization_id: int


class EmbeddedTransport(SandboxTransport):
    """The embedded sandbox as an httpx transport, with the URL its ledger identity derives from."""

    def __init__(self, backend: AnalyticsSandbox):
        super().__init__(backend)
        self.identity_url = f"sandbox://{backend.backend_id}"  # a new or reset store is a new backend


@contextmanager
def embedded_sandbox(store: Path | None) -> Iterator[tuple[EmbeddedTransport, str]]:
    """The embedded backend over ``store`` (a SQLite file; None = this process's memory): (transport, URL).

    Shared by the asset and the CLI, so both upload to the same backend as `make dev`'s served sandbox.
    """
    sandbox = AnalyticsSandbox(store_path=str(store) if store is not None else None)
    try:
        yield EmbeddedTransport(sandbox), "http://sandbox.invalid/graphql"
    finally:
        sandbox.close()


class Backend(NamedTuple):
    sender: GraphQLSender
    identity: str  # what the ledger's rows are scoped to


class AnalyticsResource(dg.ConfigurableResource):
    """GraphQL analytics backend settings (IcsAnalytics-compatible)."""

    endpoint: Optional[str] = Field(default=None, description="GraphQL URL; None = the embedded sandbox backend "
                                    "(in-process, data kept in FLEET_DATA_DIR/analytics_sandbox.sqlite).")
    backend_id: Optional[str] = Field(
        default=None, description="The backend's identity in the upload ledger (default: the normalised endpoint "
        "URL). Give every URL of one backend (localhost vs 127.0.0.1, a proxy) the same value.")
    backend_generation: Optional[str] = Field(
        default=None, description="Set a new value (e.g. the date) after the backend was reset or wiped: the "
        "ledger then treats it as a new backend and every day materialized is sent again.")
    auth_token: Optional[str] = Field(default=None, description="JWT sent as 'Authorization: Bearer'; "
                                      "bind with dg.EnvVar('SEC_AUTH_TOKEN').")
    max_points_per_request: int = Field(default=UploadSettings.max_points_per_request, ge=1, description="Data points per request at most.")
    max_bytes_per_request: int = Field(default=UploadSettings.max_bytes_per_request, ge=1024, description="Request body bytes at most.")
    max_in_flight: int = Field(default=UploadSettings.max_in_flight, ge=1, le=8,
                               description="Requests outstanding at once (acks are recorded in order); 1 = one at a time.")
    coalesce_mutations: bool = Field(
        default=UploadSettings.coalesce, description="Send configurations, GPS per vehicle and network stats "
        "several per request as aliased fields of the reference mutation; False = IcsAnalytics' exact documents.")
    max_aliases_per_request: int = Field(
        default=UploadSettings.max_aliases_per_request, ge=1, le=200,
        description="Aliased fields per coalesced document at most (gateways often limit aliases).")
    max_dead_letters: int = Field(
        default=UploadSettings.max_dead_letters, ge=0, description="Rejected records one run may dead-letter; "
        "past it the run fails (a backend refusing everything is not a day of bad records).")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per-request timeout.")
    max_attempts: int = Field(default=6, ge=1, description="Attempts per request for transient failures.")
    backoff_initial_seconds: float = Field(default=0.5, ge=0, description="First retry delay (doubles).")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="Longest retry delay.")
    verify_ssl: bool = Field(default=True, description="Verify the endpoint's TLS certificate.")
    fleet_id: int = Field(default=1, ge=0, le=2**31 - 1, description="IcsAnalytics fleetId (GraphQL Int).")
    organization_id: int = Field(default=1, ge=0, le=2**31 - 1, description="IcsAnalytics organizationId.")
    vehicle_ids: dict[str, VehicleIdsConfig] = Field(default_factory=dict,
                                                     description="Explicit ids per VIN / provider:id.")
    validate_payloads: Literal["full", "sample", "off"] = Field(
        default="sample", description="Pre-flight SDL check: every point (full), the document + every group "
        "header + each group's first point (sample), or none (off).")
    ledger_lock_timeout_seconds: float = Field(default=60.0, gt=0,
                                               description="How long to wait for a ledger locked elsewhere.")

    @classmethod
    def from_env(cls) -> "AnalyticsResource":
        """Bind endpoint/token to env vars when they are set (values resolved at run start, never at import)."""
        kwargs: dict = {}
        endpoint_var = next((name for name in ENDPOINT_ENV_VARS if os.environ.get(name)), None)
        if endpoint_var:
            kwargs["endpoint"] = dg.EnvVar(endpoint_var)
        if os.environ.get("SEC_AUTH_TOKEN"):
            kwargs["auth_token"] = dg.EnvVar("SEC_AUTH_TOKEN")
        return cls(**kwargs)

    @property
    def endpoint_label(self) -> str:
        """The endpoint as shown in metadata (credentials and query stripped); the ledger keys by identity."""
        if not self.endpoint:
            return SANDBOX_ENDPOINT
        return str(httpx.URL(self.endpoint).copy_with(username=None, password=None, query=None, fragment=None))

    def upload_settings(self) -> UploadSettings:
        overrides = {key: VehicleIds(v.device_id, v.vehicle_id, v.fleet_id, v.organization_id)
                     for key, v in self.vehicle_ids.items()}
        return UploadSettings(max_points_per_request=self.max_points_per_request,
                              max_bytes_per_request=self.max_bytes_per_request, fleet_id=self.fleet_id,
                              organization_id=self.organization_id, vehicle_overrides=overrides,
                              validation=self.validate_payloads, max_in_flight=self.max_in_flight,
                              coalesce=self.coalesce_mutations, max_aliases_per_request=self.max_aliases_per_request,
                              max_dead_letters=self.max_dead_letters)

    @contextmanager
    def open_backend(self, data_dir: Path | str | None, log: logging.Logger | None = None) -> Iterator[Backend]:
        """One connection-reusing sender for this endpoint and the backend's ledger identity, closed on exit.

        No endpoint: the embedded sandbox over ``data_dir/analytics_sandbox.sqlite`` (in memory if
        ``data_dir`` is None); its identity is the store's own id, so a deleted store is a new backend.
        """
        transport, url = None, self.endpoint
        with ExitStack() as stack:
            if not url:
                store = Path(data_dir) / SANDBOX_STORE if data_dir is not None else None
                (log or logging.getLogger(__name__)).warning(
                    "analytics: no endpoint configured; uploading to the embedded sandbox backend (store: %s)",
                    store or "memory of this process")
                transport, url = stack.enter_context(embedded_sandbox(store))
            identity = backend_identity(transport.identity_url if transport else url, self.backend_id,
                                        self.backend_generation)
            retry = RetryPolicy(self.max_attempts, self.backoff_initial_seconds, self.backoff_max_seconds)
            with GraphQLSender(url, token=self.auth_token, timeout_seconds=self.timeout_seconds,
                               verify_ssl=self.verify_ssl, retry=retry, httpx_transport=transport,
                               validate=self.validate_payloads != "off") as sender:
                yield Backend(sender, identity)
