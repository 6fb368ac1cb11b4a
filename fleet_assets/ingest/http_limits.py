"""Limits on request headers, which uvicorn's default parser does not bound.

With httptools (uvicorn's default when installed) a 2 MB header or 10,000
header fields are buffered and accepted. The server therefore runs uvicorn's
h11 parser, whose ``h11_max_incomplete_event_size`` caps the bytes of an
unfinished request head, and answers that case with 431 and the API's JSON
error instead of uvicorn's bare ``400 Invalid HTTP request received.``.
h11 has no field-count limit, so ``HeaderCountLimit`` adds one in front of
the app (cheap: the head is already bounded in bytes when it runs).
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_MAX_HEADER_BYTES = 16 * 1024  # h11's own default; nginx allows 4 x 8 KiB
DEFAULT_MAX_HEADERS = 100  # the limit of Python's http.client and of Node


def _json_error(code: str, message: str) -> bytes:
    return json.dumps({"error": code, "message": message}, separators=(",", ":")).encode()


class _Connection(h11.Connection):
    """h11 connection that remembers the protocol error, so the response can honour its status hint."""

    protocol_error: h11.RemoteProtocolError | None = None

    def next_event(self):
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.protocol_error = exc
            raise


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol; an over-long request head gets 431 with a JSON body (h11's own status hint)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_header_bytes = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
        self.conn = _Connection(h11.SERVER, self.max_header_bytes)

    def send_400_response(self, msg: str) -> None:
        error = self.conn.protocol_error
        if error is None or error.error_status_hint != 431:
            return super().send_400_response(msg)
        body = _json_error("headers_too_large", f"request headers exceed the {self.max_header_bytes} byte limit")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=431, headers=headers, reason=b"Request Header Fields Too Large"),
                      h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()


class HeaderCountLimit:
    """ASGI middleware: 431 for a request with more than ``max_headers`` header fields."""

    def __init__(self, app, max_headers: int = DEFAULT_MAX_HEADERS):
        self.app = app
        self.max_headers = max_headers

    async def __call__(self, scope, receive, send):
        count = len(scope.get("headers", ())) if scope["type"] == "http" else 0
        if count <= self.max_headers:
            return await self.app(scope, receive, send)
        body = _json_error("too_many_headers", f"request has {count} header fields; the limit is {self.max_headers}")
        await send({"type": "http.response.start", "status": 431,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
