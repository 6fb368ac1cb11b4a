"""Deterministic simulated fleet served in Motive's and Samsara's wire formats.

In-process: ``ProviderSandboxTransport(SandboxConfig(...))`` (an httpx transport, sync
and async). Loopback: ``with serve_in_thread(SandboxConfig(...)) as url``, or
the ``fleet-sandbox serve`` CLI. Fault switches: :mod:`.config`.
"""

from fleet_assets.sandbox.config import FAULT_KINDS, FaultConfig, SandboxConfig
from fleet_assets.sandbox.handler import RequestRecord, SandboxBackend, SandboxResponse
from fleet_assets.sandbox.server import create_app, serve_in_thread
from fleet_assets.sandbox.transport import ProviderSandboxTransport

__all__ = ["FAULT_KINDS", "FaultConfig", "RequestRecord", "SandboxBackend", "SandboxConfig", "SandboxResponse",
           "ProviderSandboxTransport", "create_app", "serve_in_thread"]
