"""One upload wired from ``UploadSettings``: sender + ledger + uploader, for the asset and the CLI alike.

No endpoint means the embedded sandbox backend, run in-process over the
SQLite store in the data dir (``analytics_sandbox.sqlite``, the one ``make
dev`` also serves on loopback), so its data lives as long as the ledger's.
The ledger is scoped to a backend identity: ``backend_id`` if set, else the
normalised endpoint URL (the embedded store's own random id), plus
``backend_generation`` when set: changing it declares the backend was reset,
so every day is sent to it again.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import httpx

from fleet_assets.analytics.ledger import UploadLedger, backend_identity
from fleet_assets.analytics.sandbox.transport import embedded_sandbox
from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionUploader

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
    ledger: UploadLedger  # scoped to the backend's identity (``ledger.endpoint``)
    endpoint_label: str


@contextmanager
def open_upload(settings: UploadSettings, data_dir: Path | str | None, ledger_path: Path,
                logger: logging.Logger | None = None) -> Iterator[Upload]:
    """A connection-reusing sender for ``settings.endpoint``, the backend's ledger and an uploader; closed on exit.

    No endpoint: the embedded sandbox over ``data_dir/analytics_sandbox.sqlite`` (in memory if ``data_dir`` is
    None); its identity is the store's own id, so a deleted store is a new backend.
    """
    logger = logger or log
    transport, url = None, settings.endpoint
    with ExitStack() as stack:
        if not url:
            store = Path(data_dir) / SANDBOX_STORE if data_dir is not None else None
            logger.warning("analytics: no endpoint configured; uploading to the embedded sandbox backend (store: %s)",
                           store or "memory of this process")
            transport, url = stack.enter_context(embedded_sandbox(store))
        identity = backend_identity(transport.identity_url if transport else url, settings.backend_id,
                                    settings.backend_generation)
        retry = RetryPolicy(settings.max_attempts, settings.backoff_initial_seconds, settings.backoff_max_seconds)
        sender = stack.enter_context(GraphQLSender(
            url, token=settings.auth_token, timeout_seconds=settings.timeout_seconds, verify_ssl=settings.verify_ssl,
            retry=retry, httpx_transport=transport, validate=settings.validate_payloads != "off"))
        ledger = UploadLedger(ledger_path, identity, settings.ledger_lock_timeout_seconds)
        yield Upload(PartitionUploader(sender, ledger, settings, logger), ledger, endpoint_label(settings.endpoint))
