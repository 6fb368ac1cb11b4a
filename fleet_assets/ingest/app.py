"""Starlette ASGI app for the offline-upload API (seed 004).

This layer authenticates, enforces size and content-type limits while the body
streams in (so an oversized upload is cut off early instead of buffered), and
maps ``IngestError`` to JSON. The rules themselves live in ``service``; disk
work runs in the thread pool, and with ``validate_workers`` > 0 chunk
validation (CPU-bound, GIL-holding) runs in worker processes, so /healthz and
other uploads are answered while a big chunk is checked.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from fleet_protocol import CHUNK_CONTENT_TYPE
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleet_assets.ingest import service
from fleet_assets.ingest.errors import IngestError
from fleet_assets.ingest.http_limits import DEFAULT_MAX_HEADERS, HeaderCountLimit
from fleet_assets.ingest.keys import KeyRing
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.ingest.openapi import OPENAPI
from fleet_assets.ingest.validation import ValidatorPool, summarise_chunk
from fleet_assets.state.postgres import StateError
from fleet_assets.storage.objects import StorageError

log = logging.getLogger("fleet_assets.ingest")
MAX_JSON_BYTES = 1024 * 1024


def create_app(
    landing: LandingZone | Path | str,
    keys: KeyRing,
    *,
    max_chunk_bytes: int = service.DEFAULT_MAX_CHUNK_BYTES,
    max_decompressed_bytes: int = service.DEFAULT_MAX_DECOMPRESSED_BYTES,
    fsync: bool = True,
    max_headers: int = DEFAULT_MAX_HEADERS,
    validate_workers: int = 0,
) -> Starlette:
    """The ASGI app on a landing zone (or a local landing directory, embedded state).

    ``validate_workers`` 0 validates chunks in the request's thread (tests, small setups).
    """
    zone = landing if isinstance(landing, LandingZone) else LandingZone(landing, fsync=fsync)
    pool = ValidatorPool(validate_workers) if validate_workers > 0 else None

    @asynccontextmanager
    async def lifespan(app: Starlette):
        if pool is not None:
            await run_in_threadpool(pool.warm)
            log.info("chunk validation in %d worker process(es)", validate_workers)
        try:
            yield
        finally:
            if pool is not None:
                await run_in_threadpool(pool.shutdown)
            zone.close()

    async def authenticate(request: Request):
        # In the thread pool: with FLEET_STATE_URL a key lookup is a Postgres query.
        return await run_in_threadpool(keys.authenticate, request.headers.get("authorization"))

    async def create_trip(request: Request) -> JSONResponse:
        device = await authenticate(request)
        body = await _read_json(request)
        status, payload = await run_in_threadpool(service.create_trip, zone, body, device)
        log.info("trip %s create by %s -> %s", payload["trip_id"], device.name, status)
        return JSONResponse(payload, status_code=status)

    async def get_trip(request: Request) -> JSONResponse:
        device = await authenticate(request)
        payload = await run_in_threadpool(service.trip_status, zone, request.path_params["trip_id"], device)
        return JSONResponse(payload)

    async def put_chunk(request: Request) -> JSONResponse:
        device = await authenticate(request)
        trip_id = service.check_trip_id(request.path_params["trip_id"])
        chunk_no = service.check_chunk_no(request.path_params["chunk_no"])
        expected_key = f"{trip_id}:{chunk_no}"
        idem = request.headers.get("idempotency-key")
        if idem != expected_key:
            raise IngestError(400, "bad_idempotency_key", f"Idempotency-Key must be {expected_key!r}, got {idem!r}")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != CHUNK_CONTENT_TYPE:
            raise IngestError(415, "unsupported_media_type", f"Content-Type must be {CHUNK_CONTENT_TYPE}")
        await run_in_threadpool(service.load_trip, zone, trip_id, device)
        body = await _read_limited(request, max_chunk_bytes)
        status, payload = await run_in_threadpool(
            service.put_chunk,
            zone,
            trip_id,
            chunk_no,
            body,
            request.headers.get("x-chunk-sha256"),
            device,
            max_decompressed_bytes=max_decompressed_bytes,
            validate=pool or summarise_chunk,
        )
        log.info("trip %s chunk %s (%d bytes) -> %s", trip_id, chunk_no, len(body), status)
        return JSONResponse(payload, status_code=status)

    async def delete_chunk(request: Request) -> JSONResponse:
        device = await authenticate(request)
        trip_id, chunk_no = request.path_params["trip_id"], request.path_params["chunk_no"]
        status, payload = await run_in_threadpool(service.delete_chunk, zone, trip_id, chunk_no, device)
        log.info("trip %s chunk %s delete by %s -> deleted=%s", payload["trip_id"], payload["chunk_no"], device.name,
                 payload["deleted"])
        return JSONResponse(payload, status_code=status)

    async def complete(request: Request) -> JSONResponse:
        device = await authenticate(request)
        trip_id = service.check_trip_id(request.path_params["trip_id"])
        body = await _read_json(request)
        status, payload = await run_in_threadpool(service.complete_trip, zone, trip_id, body, device)
        log.info("trip %s complete -> marker %s", trip_id, payload["marker"])
        return JSONResponse(payload, status_code=status)

    async def openapi(request: Request) -> JSONResponse:
        return JSONResponse(OPENAPI)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def on_ingest_error(request: Request, exc: IngestError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return JSONResponse(exc.to_json(), status_code=exc.status)

    async def on_backend_down(request: Request, exc: Exception) -> JSONResponse:
        # S3 or Postgres unreachable mid-request (deployed mode): a retryable 503 and one log line, no traceback.
        # Nothing half-stored: a chunk only counts once its sidecar exists, a completion once its log entry commits.
        code = "storage_unavailable" if isinstance(exc, StorageError) else "state_unavailable"
        setting = "FLEET_STORAGE_URL" if code == "storage_unavailable" else "FLEET_STATE_URL"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.error("%s %s: %s: %s", request.method, request.url.path, code, reason)
        return JSONResponse({"error": code, "message": f"{setting} backend unavailable; nothing was stored, retry"},
                            status_code=503)

    async def on_client_disconnect(request: Request, exc: ClientDisconnect) -> Response:
        # An uploader losing its link mid-body is routine (it resumes later): one line, no traceback.
        # Nothing was stored: the body is only written once it has fully arrived and been checked.
        received, declared = getattr(exc, "received", None), request.headers.get("content-length", "?")
        log.warning("%s %s: client disconnected after %s of %s bytes; nothing stored", request.method,
                    request.url.path, "?" if received is None else received, declared)
        return Response(status_code=499)  # never sent: uvicorn drops responses to a closed connection

    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "message": str(exc.detail)}, status_code=exc.status_code)

    return Starlette(
        routes=[
            Route("/v1/trips", create_trip, methods=["POST"]),
            Route("/v1/trips/{trip_id}", get_trip, methods=["GET"]),
            Route("/v1/trips/{trip_id}/chunks/{chunk_no}", put_chunk, methods=["PUT"]),
            Route("/v1/trips/{trip_id}/chunks/{chunk_no}", delete_chunk, methods=["DELETE"]),
            Route("/v1/trips/{trip_id}/complete", complete, methods=["POST"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={IngestError: on_ingest_error, HTTPException: on_http_error,
                            ClientDisconnect: on_client_disconnect, StorageError: on_backend_down,
                            StateError: on_backend_down, psycopg.Error: on_backend_down},
        middleware=[Middleware(HeaderCountLimit, max_headers=max_headers)],
        lifespan=lifespan,
    )


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing early on Content-Length and again while streaming."""
    declared = request.headers.get("content-length")
    if declared is None:
        raise IngestError(411, "length_required", "Content-Length header is required")
    if not declared.isdigit():
        raise IngestError(400, "bad_content_length", f"Content-Length {declared!r} is not a number")
    if int(declared) > limit:
        raise IngestError(413, "body_too_large", f"body of {declared} bytes exceeds the {limit} byte limit")
    data = bytearray()
    try:
        async for part in request.stream():
            data += part
            if len(data) > limit:
                raise IngestError(413, "body_too_large", f"body exceeds the {limit} byte limit")
    except ClientDisconnect as exc:
        exc.received = len(data)  # for the one log line of on_client_disconnect
        raise
    return bytes(data)


async def _read_json(request: Request):
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise IngestError(415, "unsupported_media_type", "Content-Type must be application/json")
    raw = await _read_limited(request, MAX_JSON_BYTES)
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise IngestError(400, "invalid_json", f"body is not valid JSON: {exc}") from None
