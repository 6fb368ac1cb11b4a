"""Thin httpx client for the offline-upload API (seed 004 + GET status for resume).

Errors are split by what the caller should do: ``TransientUploadError``
(network failure, 5xx, 408/429) → retry later; ``UploadRejected`` (other
4xx) → retrying the same bytes cannot help, report it.
"""

from __future__ import annotations

import httpx
from fleet_protocol import CHUNK_CONTENT_TYPE, TripManifest, sha256_hex

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


class TransientUploadError(Exception):
    """The server could not be reached or asked us to come back later."""


class UploadRejected(Exception):
    """The server refused the request for a reason retrying will not fix."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class IngestClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None):
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "IngestClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, url: str, *, ok=(200, 201), allow=(), **kwargs) -> httpx.Response:
        try:
            resp = self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:  # connect refused, reset mid-body, timeouts
            raise TransientUploadError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code in ok or resp.status_code in allow:
            return resp
        if resp.status_code in RETRYABLE_STATUS:
            raise TransientUploadError(f"{method} {url}: HTTP {resp.status_code}")
        try:
            body = resp.json()
            code, message = body.get("error", "error"), body.get("message", resp.text)
        except ValueError:
            code, message = "error", resp.text[:200]
        raise UploadRejected(resp.status_code, code, message)

    def status(self, trip_id: str) -> dict | None:
        """What the server holds for the trip, or None if it does not know it."""
        resp = self._call("GET", f"/v1/trips/{trip_id}", ok=(200,), allow=(404,))
        return None if resp.status_code == 404 else resp.json()

    def create_trip(self, manifest: TripManifest) -> None:
        started = manifest.started_at.isoformat().replace("+00:00", "Z")
        self._call("POST", "/v1/trips", json={"vin": manifest.vin, "trip_id": manifest.trip_id, "started_at": started})

    def put_chunk(self, trip_id: str, chunk_no: int, body: bytes) -> bool:
        """Upload one chunk; True if stored now, False if the server already had it."""
        resp = self._call(
            "PUT",
            f"/v1/trips/{trip_id}/chunks/{chunk_no}",
            content=body,
            headers={
                "Idempotency-Key": f"{trip_id}:{chunk_no}",
                "X-Chunk-SHA256": sha256_hex(body),
                "Content-Type": CHUNK_CONTENT_TYPE,
            },
        )
        return resp.status_code == 201

    def delete_chunk(self, trip_id: str, chunk_no: int) -> bool:
        """Remove a stored chunk of a trip that is not complete yet; True if there was one."""
        return bool(self._call("DELETE", f"/v1/trips/{trip_id}/chunks/{chunk_no}", ok=(200,)).json()["deleted"])

    def complete(self, manifest: TripManifest) -> dict:
        return self._call(
            "POST", f"/v1/trips/{manifest.trip_id}/complete", ok=(200,),
            content=manifest.model_dump_json(), headers={"Content-Type": "application/json"},
        ).json()
