"""One upload wired from ``UploadSettings``: sender + ledger + uploader, for the asset and the CLI alike.

No endpoint means the embedded sandbox backend, run in-process over the
SQLite store in the data dir (``analytics_sandbox.sqlite``, the one ``make
dev`` also serves on loopback), so its data lives as long as the ledger's.
The ledger is scoped to a backend identity: ``backend_id`` if set, else the
normalised endpoint URL (the embedded store's own random id), plus
``backend_generation`` when set: changing it declares the backend was reset,
so every day is sent to it again.

The ledger's store is chosen here and nowhere else (``open_ledger``): the
PostgreSQL database of ``FLEET_STATE_URL`` when the layout has one (deployed
mode: every run worker shares it), else the DuckDB file in the data dir.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, closing, contextmanager
from typing import Iterator, NamedTuple

import httpx

from fleet_assets.analytics.ledger import Ledger, UploadLedger, backend_identity
from fleet_assets.analytics.ledger_postgres import PostgresLedger
from fleet_assets.analytics.sandbox.transport import embedded_sandbox
from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionUploader
from fleet_assets.storage.layout import DataLayout

SANDBOX_ENDPOINT = "sandbox://embedded/graphql"  # the embedded backend as shown in metadata
SANDBOX_STORE = "analytics_sandbox.sqlite"  # the embedded backend's store, under the data dir

log = logging.getLogger(__name__)


def endpoint_label(endpoint: str | None) -> str:
    """The endpoint as shown in metadata (credentials and query stripped); the ledger keys by identity."""
    if not endpoint:
        return SANDBOX_ENDPOINT
    return str(httpx.URL(endpoint).copy_with(username=None, password=None, query=None, fragment=None))


class Upload(NamedTuple):
    uploader: PartitionUploader
    ledger: Ledger  # scoped to the backend's identity (``ledger.endpoint``)
    endpoint_label: str


def open_ledger(layout: DataLayout, settings: UploadSettings, identity: str = "") -> Ledger:
    """The upload ledger: in Postgres when ``layout.state_url`` is set, else the DuckDB file in the data dir.

    The Postgres ledger connects here, so a wrong ``FLEET_STATE_URL`` is a ``StateError`` before anything
    is sent or written. ``identity`` (``ledger.endpoint``) may be set later, before the first operation.
    """
    if layout.state_url:
        return PostgresLedger(layout.state_url, identity, settings.ledger_lock_timeout_seconds)
    return UploadLedger(layout.ledger_path, identity, settings.ledger_lock_timeout_seconds)


@contextmanager
def open_upload(settings: UploadSettings, layout: DataLayout,
                logger: logging.Logger | None = None) -> Iterator[Upload]:
    """A connection-reusing sender for ``settings.endpoint``, the backend's ledger and an uploader; closed on exit.

    No endpoint: the embedded sandbox over ``<data dir>/analytics_sandbox.sqlite``; its identity is the store's
    own id, so a deleted store is a new backend. The ledger is opened first: a state database that cannot be
    reached fails before the sandbox store is created or a request is sent.
    """
    logger = logger or log
    transport, url = None, settings.endpoint
    with ExitStack() as stack:
        ledger = stack.enter_context(closing(open_ledger(layout, settings)))
        logger.info("analytics: upload ledger %s", ledger.location)  # never the password
        if not url:
            store = layout.root / SANDBOX_STORE
            logger.warning("analytics: no endpoint configured; uploading to the embedded sandbox backend (store: %s)",
                           store)
            transport, url = stack.enter_context(embedded_sandbox(store))
        ledger.endpoint = backend_identity(transport.identity_url if transport else url, settings.backend_id,
                                           settings.backend_generation)
        retry = RetryPolicy(settings.max_attempts, settings.backoff_initial_seconds, settings.backoff_max_seconds)
        sender = stack.enter_context(GraphQLSender(
            url, token=settings.auth_token, timeout_seconds=settings.timeout_seconds, verify_ssl=settings.verify_ssl,
            retry=retry, httpx_transport=transport, validate=settings.validate_payloads != "off"))
        yield Upload(PartitionUploader(sender, ledger, settings, logger), ledger, endpoint_label(settings.endpoint))
