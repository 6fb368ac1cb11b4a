"""The trip manifest (seed 004) and its consistency rules.

The manifest is what makes a trip "complete": the server accepts it only when
every chunk it lists is present with the same sha256 and size and the chunks
tile the seq range with no gap or overlap.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_protocol.events import TripId, Vin


class ChunkInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    no: int = Field(ge=1)
    first_seq: int = Field(ge=1)
    last_seq: int = Field(ge=1)
    size_bytes: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _ordered(self) -> "ChunkInfo":
        if self.last_seq < self.first_seq:
            raise ValueError(f"chunk {self.no}: last_seq {self.last_seq} < first_seq {self.first_seq}")
        return self


class TripManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(default=1, ge=1, le=1)
    vin: Vin
    trip_id: TripId
    started_at: datetime
    ended_at: datetime | None = None
    event_count: int = Field(ge=0)
    chunks: list[ChunkInfo]

    @model_validator(mode="after")
    def _consistent(self) -> "TripManifest":
        numbers = [chunk.no for chunk in self.chunks]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"chunks must be numbered 1..n in order, got {numbers}")
        expected_first = 1
        for chunk in self.chunks:
            if chunk.first_seq != expected_first:
                raise ValueError(
                    f"chunk {chunk.no} starts at seq {chunk.first_seq}, expected {expected_first} "
                    "(chunks must tile the seq range without gaps or overlaps)"
                )
            expected_first = chunk.last_seq + 1
        if self.event_count != expected_first - 1:
            raise ValueError(
                f"event_count {self.event_count} does not match the chunks' seq range 1..{expected_first - 1}"
            )
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self
