"""Child process for the SIGKILL durability test: write records as fast as possible.

Usage: ``python sigkill_writer.py DB ACK_FILE SEED``. It resumes the open trip
(or starts one), appends small batches of events with an occasional DTC, and
ends/starts a trip now and then. After each ``append`` returns (= committed and
fsynced), and only then, it writes ``trip_id first_seq last_seq`` to ACK_FILE
with a single ``os.write`` so the parent learns exactly what was acknowledged.
It never exits on its own; the parent kills it with SIGKILL.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import datetime, timedelta, timezone

from edge_collector.buffer import EventBuffer

VIN = "WAUZZZFY0R1234567"


def main() -> None:
    db, ack_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    ack = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    buffer = EventBuffer(db)
    now = datetime(2025, 11, 4, 8, 0, tzinfo=timezone.utc) + timedelta(hours=seed)
    trip = buffer.open_trip()
    trip_id = trip["trip_id"] if trip else buffer.start_trip(VIN, now)
    os.write(ack, f"ready {trip_id}\n".encode())
    batch_no = 0
    while True:
        batch_no += 1
        records = []
        for _ in range(rng.randint(1, 50)):
            now += timedelta(milliseconds=100)
            records.append({"ts": now, "lat": 49.5 + rng.random() / 100, "lon": 8.6, "speed_kph": rng.uniform(0, 130),
                            "rpm": rng.uniform(700, 4000), "coolant_c": 88.0, "throttle_pos": rng.random()})
        if batch_no % 7 == 0:
            records.append({"kind": "dtc", "ts": now, "code": "P0143", "description": "O2 sensor", "status": "stored"})
        seqs = buffer.append(trip_id, records)
        os.write(ack, f"{trip_id} {seqs[0]} {seqs[-1]}\n".encode())
        if batch_no % 97 == 0:  # exercise trip boundaries too
            buffer.end_trip(trip_id, now)
            os.write(ack, f"ended {trip_id}\n".encode())
            trip_id = buffer.start_trip(VIN, now)
            os.write(ack, f"ready {trip_id}\n".encode())


if __name__ == "__main__":
    main()
