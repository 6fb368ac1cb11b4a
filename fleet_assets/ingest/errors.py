"""One error type carrying the HTTP status, a stable code and a human message."""

from __future__ import annotations


class IngestError(Exception):
    """A rejected request; rendered as ``{"error": code, "message": message}``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict:
        return {"error": self.code, "message": self.message}
