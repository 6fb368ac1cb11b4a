"""Embedded IcsAnalytics-compatible GraphQL backend for tests, demos and uploads without an endpoint.

Same shape as the provider sandbox (:mod:`fleet_assets.sandbox`): ``backend``
(state + GraphQL execution), ``store`` (memory or SQLite), ``fault_plan``
(deterministic faults), ``transport`` (in-process httpx transport, and the
embedded backend of uploads without an endpoint), ``app`` (Starlette on
loopback), ``cli`` (``python -m fleet_assets.analytics.sandbox.cli``).
"""

from fleet_assets.analytics.sandbox.app import create_app, serve_in_thread
from fleet_assets.analytics.sandbox.backend import AnalyticsSandbox, AnalyticsSandboxResponse
from fleet_assets.analytics.sandbox.fault_plan import FaultPlan
from fleet_assets.analytics.sandbox.transport import AnalyticsSandboxTransport, embedded_sandbox

__all__ = ["AnalyticsSandbox", "AnalyticsSandboxResponse", "AnalyticsSandboxTransport", "FaultPlan", "create_app",
           "embedded_sandbox", "serve_in_thread"]
