"""Records (Arrow) + resolved backend ids → wire ``Item``s, in the fixed packing order.

Pure: the caller resolves configuration ids (per vehicle) and message ids (per
message key) first. Messages follow IcsAnalytics' model: one message per OBD
PID (signals hang off it by name) and one for DTCs; the key is IcsAnalytics'
own ``arbId|networkName|ecuName|name``.
"""

from __future__ import annotations

from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.analytics.batching import Item
from fleet_assets.analytics.records import GPS_SCHEMA, OBD_PIDS, SIGNAL_SCHEMA, rows

OBD_ARB_ID = "7E8"
OBD_NETWORK = "OBD-II"
OBD_ECU = "ECM"
DTC_MESSAGE_NAME = "OBD_DTC"
PIDS = {p.pid: p for p in OBD_PIDS}


def message_key(message: dict) -> str:
    """IcsAnalytics' message cache key (values stripped, None as "")."""
    return "|".join(str(message.get(k) or "").strip() for k in ("arbId", "networkName", "ecuName", "name"))


def pid_message(pid: str) -> dict:
    return {"arbId": OBD_ARB_ID, "name": f"OBD_PID_{pid}", "networkName": OBD_NETWORK, "ecuName": OBD_ECU,
            "ecuId": "7E0", "requestCode": f"01{pid}", "fileId": None, "messageDate": None}


def dtc_message() -> dict:
    return {"arbId": OBD_ARB_ID, "name": DTC_MESSAGE_NAME, "networkName": OBD_NETWORK, "ecuName": OBD_ECU,
            "ecuId": "7E0", "requestCode": "03", "fileId": None, "messageDate": None}


def messages_needed(pids: list[str], has_dtcs: bool) -> list[dict]:
    """The messages the signals of ``pids`` and (if any) the DTCs hang off, in a fixed order."""
    needed = [pid_message(pid) for pid in sorted(set(pids))]
    if has_dtcs:
        needed.append(dtc_message())
    return needed


_NO_KEY = object()  # no run seen yet (compares unequal to any key, even None)


def _in_order(buckets: dict[tuple, list[Item]], time_sorted: set[tuple] = frozenset()) -> list[Item]:
    """Items ordered by (group, time): groups sorted, each bucket stably by time.

    The same order as ``sorted(items, key=(group, time))`` (both stable), without a key tuple per item.
    ``time_sorted``: groups whose bucket is already in time order (no per-item sort key).
    """
    out: list[Item] = []
    for group in sorted(buckets):
        bucket = buckets[group]
        out.extend(bucket if group in time_sorted else sorted(bucket, key=lambda i: i.point["time"]))
    return out


def _time_sorted_runs(table: pa.Table, run_keys: list[str]) -> bool:
    """Whether ``time`` never decreases between consecutive rows of equal ``run_keys`` (vectorised check)."""
    if table.num_rows < 2:
        return True
    head, tail = table.slice(0, table.num_rows - 1), table.slice(1)
    same = pc.equal(head[run_keys[0]], tail[run_keys[0]])
    for key in run_keys[1:]:
        same = pc.and_kleene(same, pc.equal(head[key], tail[key]))
    backwards = pc.and_kleene(same, pc.less(tail["time"], head["time"]))
    return not pc.any(pc.fill_null(backwards, True)).as_py()


# IcsAnalytics' ``available`` flags depend only on which optional values are present: four shared
# (never mutated) dicts instead of one per point.
_AVAILABLE = {(bearing, speed): {"accuracy": False, "altitude": False, "bearing": bearing, "speed": speed,
                                 "time": True} for bearing in (False, True) for speed in (False, True)}


def gps_items(gps: pa.Table, config_of: Callable[[str], int]) -> list[Item]:
    buckets: dict[tuple, list[Item]] = {}
    last_key, bucket, group, header = _NO_KEY, None, None, None
    available = _AVAILABLE
    for vehicle_key, time, latitude, longitude, speed, bearing, fp in rows(gps.select(list(GPS_SCHEMA.names))):
        if vehicle_key != last_key:
            cid = config_of(vehicle_key)
            group = (cid,)
            bucket = buckets.setdefault(group, [])
            header = bucket[0].header if bucket else {"configurationId": cid}
            last_key = vehicle_key
        point = {"time": time, "latitude": latitude, "longitude": longitude, "accuracy": None, "altitude": None,
                 "speed": speed, "bearing": bearing, "available": available[bearing is not None, speed is not None]}
        bucket.append(Item(group, header, point, fp))
    return _in_order(buckets)


def signal_items(signals: pa.Table, config_of: Callable[[str], int], message_ids: dict[str, int]) -> list[Item]:
    mids = {pid: message_ids[message_key(pid_message(pid))] for pid in set(signals["pid"].to_pylist())}
    buckets: dict[tuple, list[Item]] = {}
    headers: dict[tuple, dict] = {}
    last_key, bucket, group, header = _NO_KEY, None, None, None
    resumed = set()  # groups fed by more than one run: their buckets need the time sort
    for vehicle_key, pid_code, time, value, fp in rows(signals.select(list(SIGNAL_SCHEMA.names))):
        if (vehicle_key, pid_code) != last_key:  # records arrive in runs of one (vehicle, PID)
            pid = PIDS[pid_code]
            cid = config_of(vehicle_key)
            group = (cid, mids[pid_code], pid.name)
            header = headers.get(group)
            if header is None:
                header = headers[group] = {"configurationId": cid, "messageId": group[1], "name": pid.name,
                                           "unit": pid.unit, "paramType": "RAW", "paramId": pid.pid,
                                           "signalType": "PID"}
            bucket = buckets.setdefault(group, [])
            if bucket:
                resumed.add(group)
            last_key = (vehicle_key, pid_code)
        bucket.append(Item(group, header, {"value": value, "svalue": None, "time": time}, fp))
    # signal_points' records are in time order inside each run, so most buckets need no sort at all
    runs_sorted = _time_sorted_runs(signals, ["vehicle_key", "pid"])
    return _in_order(buckets, set(buckets) - resumed if runs_sorted else set())


def dtc_items(dtcs: pa.Table, config_of: Callable[[str], int], message_ids: dict[str, int]) -> list[Item]:
    mid = message_ids.get(message_key(dtc_message()))
    items = []
    for r in dtcs.to_pylist():
        cid = config_of(r["vehicle_key"])
        header = {"configurationId": cid, "messageId": mid, "fileId": "", "messageDate": ""}
        point = {"dtcId": r["dtc_id"], "status": r["status"], "description": r["description"], "time": r["time"],
                 "extended": None, "snapshot": None}
        items.append(Item((cid, mid), header, point, r["fingerprint"]))
    return sorted(items, key=lambda i: (i.group, i.point["time"], i.point["dtcId"]))


def network_stats_items(stats: pa.Table, config_of: Callable[[str], int], vehicle_of: Callable[[str], int],
                        id_field: str) -> list[Item]:
    """One item per (vehicle, source); ``id_field`` is what the introspection probe chose."""
    items = []
    for r in stats.to_pylist():
        owner = config_of(r["vehicle_key"]) if id_field == "configurationId" else vehicle_of(r["vehicle_key"])
        header = {"name": r["name"], id_field: owner, "uploadId": r["upload_id"]}
        point = {"totalMessages": r["total"], "matchedMessages": r["matched"],
                 "unmatchedMessages": r["unmatched"], "errorMessages": r["errors"], "longMessageParts": 0,
                 "rate": r["rate"]}
        if r["min_time"] is not None:
            point.update(minTime=r["min_time"], maxTime=r["max_time"])
        # The fingerprint in the group keeps every stat its own group (one object per aliased field) even
        # if two vehicles share an owner id, so a coalesced batch always splits and bisects cleanly.
        items.append(Item((owner, r["name"], r["upload_id"], r["fingerprint"]), header, point, r["fingerprint"]))
    return sorted(items, key=lambda i: i.group)
