"""Wire items and deterministic batches (pure: records + resolved ids in, batches out).

A batch is a run of items of one kind, packed greedily in a fixed order
(group, time) until the next item would exceed ``max_points`` or
``max_bytes`` of request body. Greedy packing restarted at a batch boundary
reproduces the same following batches, so after a crash the pending items
(everything minus acknowledged fingerprints) re-pack into exactly the batches
that were not acknowledged, with the same ids: ``sha256(partition | kind |
fingerprints)``. Verbatim documents: a GPS batch never mixes configurations
(``UpsertGpsDataInput`` has one ``configurationId``) and network stats go one
per request (the mutation takes one object). Coalesced (``operations``): each
group of a GPS or network-stats batch becomes one aliased field of one
document, so those batches are packed by points and bytes like the others.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import orjson

from gql import GraphQLRequest

from fleet_assets.analytics.operations import (
    ALL_OPERATIONS,
    COALESCIBLE,
    KIND_OPERATION,
    KINDS,
    MAX_FIELDS_PER_DOCUMENT,
    REQUESTS,
    coalesced_request,
    input_variable,
)

SINGLE_GROUP_KINDS = {"gps"}
ONE_PER_REQUEST_KINDS = {"network_stats"}
COALESCED_KINDS = {kind for kind, op in KIND_OPERATION.items() if op in COALESCIBLE}


def _json_len(value: Any) -> int:
    """Bytes of ``value`` in the body as sent (the sender encodes with orjson too: compact UTF-8)."""
    return len(orjson.dumps(value))


class Item(NamedTuple):
    """One record on the wire: its group header (shared by consecutive items) and its point.

    A NamedTuple, not a frozen dataclass: one is built per record (~10^5 a day) and a tuple is ~3x
    cheaper to construct; fields and attribute access are the same.
    """

    group: tuple
    header: dict
    point: dict
    fingerprint: int


@dataclass
class Batch:
    partition_key: str
    kind: str
    items: list[Item]
    estimated_bytes: int = 0
    coalesced: bool = False  # several groups as aliased fields of one document (operations.coalesced_request)
    batch_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.batch_id = batch_id(self.partition_key, self.kind, [i.fingerprint for i in self.items])

    def split(self) -> tuple["Batch", "Batch"]:
        mid = len(self.items) // 2
        return (Batch(self.partition_key, self.kind, self.items[:mid], coalesced=self.coalesced),
                Batch(self.partition_key, self.kind, self.items[mid:], coalesced=self.coalesced))

    def group_batches(self) -> list["Batch"]:
        """One batch per group, in order: the fields of a coalesced document, one by one."""
        return [Batch(self.partition_key, self.kind, run, coalesced=self.coalesced) for run in _runs(self.items)]

    @cached_property
    def group_count(self) -> int:
        return len(_runs(self.items))

    @property
    def uses_aliases(self) -> bool:
        return self.coalesced and self.kind in COALESCED_KINDS and self.group_count > 1

    def request(self) -> GraphQLRequest:
        """The document: the reference one, or its coalesced form with one field per group."""
        operation = KIND_OPERATION[self.kind]
        return coalesced_request(operation, self.group_count) if self.uses_aliases else REQUESTS[operation]

    def variables(self) -> dict:
        return build_variables(self.kind, self.items, self.uses_aliases)

    def sample_variables(self) -> dict:
        """Variables with every group header but only each group's first point (cheap pre-flight check)."""
        return build_variables(self.kind, [run[0] for run in _runs(self.items)], self.uses_aliases)


def batch_id(partition_key: str, kind: str, fingerprints: list[int]) -> str:
    digest = hashlib.sha256(f"{partition_key}|{kind}|".encode())
    digest.update(",".join(map(str, fingerprints)).encode())
    return digest.hexdigest()[:32]


def _runs(items: list[Item]) -> list[list[Item]]:
    """Consecutive items of the same group: the groups of a request, in order."""
    runs: list[list[Item]] = []
    last = None
    for item in items:
        if item.group != last:
            runs.append([])
            last = item.group
        runs[-1].append(item)
    return runs


def _groups(items: list[Item]) -> list[tuple[dict, list[dict]]]:
    return [(run[0].header, [item.point for item in run]) for run in _runs(items)]


def _group_input(kind: str, header: dict, points: list[dict]) -> dict:
    """One group's ``input`` object for a single-object mutation."""
    if kind == "gps":
        return {**header, "data": points}
    if len(points) != 1:
        raise ValueError("network stats are one object per field")
    return {**header, **points[0]}


def build_variables(kind: str, items: list[Item], aliased: bool = False) -> dict:
    """The ``{"input": ...}`` variables IcsAnalytics sends for ``kind`` (``{"inputK": ...}`` when aliased)."""
    if not items:
        raise ValueError("a batch needs at least one item")
    groups = _groups(items)
    if aliased:
        if kind not in COALESCED_KINDS:
            raise ValueError(f"{kind} is not sent as aliased fields")
        return {input_variable(i): _group_input(kind, header, points) for i, (header, points) in enumerate(groups)}
    if kind == "gps":
        if len(groups) != 1:
            raise ValueError("a GPS batch must hold exactly one configuration")
        header, points = groups[0]
        return {"input": {**header, "data": points}}
    if kind == "signal":
        return {"input": {"signals": [{**header, "data": points} for header, points in groups]}}
    if kind == "dtc":
        return {"input": [{**header, "data": points} for header, points in groups]}
    if kind == "network_stats":
        if len(items) != 1:
            raise ValueError("network stats take one object per request unless aliased")
        return {"input": {**items[0].header, **items[0].point}}
    raise ValueError(f"unknown upload kind {kind!r}; expected one of {KINDS}")


def pack(partition_key: str, kind: str, items: list[Item], max_points: int, max_bytes: int,
         coalesce: bool = False, max_aliases: int = MAX_FIELDS_PER_DOCUMENT) -> list[Batch]:
    """Greedy, order-preserving packing by points AND bytes per request.

    Bytes are the JSON body as sent (query text + variables) within a few
    bytes of separators; an item bigger than ``max_bytes`` alone is still sent
    alone (refusing it would lose it) and shows in the batch's estimate.
    ``coalesce``: GPS and network-stats groups share a request as aliased
    fields, at most ``max_aliases`` of them (each new group also costs one
    more field of document text).
    """
    if max_points < 1 or max_bytes < 1:
        raise ValueError(f"batch limits must be positive (max_points={max_points}, max_bytes={max_bytes})")
    if not 1 <= max_aliases <= MAX_FIELDS_PER_DOCUMENT:
        raise ValueError(f"max_aliases must be within 1..{MAX_FIELDS_PER_DOCUMENT}, not {max_aliases}")
    aliased = coalesce and kind in COALESCED_KINDS
    query = ALL_OPERATIONS[KIND_OPERATION[kind]]
    base = _json_len({"query": query, "variables": {"input": {"signals": []}}})
    field_cost = len(query) + len(',"input00":') if aliased else 0  # upper bound of one more aliased field
    batches: list[Batch] = []
    current: list[Item] = []
    size = base
    groups = 0
    last_group = None
    group_cost = 0
    for item in items:
        new_group = item.group != last_group
        if new_group:  # a group's header is shared by its items: measured once per group
            group_cost = _json_len(item.header) + len(',"data":[]') + 1 + field_cost
        cost = _json_len(item.point) + 1 + (group_cost if new_group else 0)
        if aliased:
            split_here = new_group and groups >= max_aliases
        else:
            split_here = kind in ONE_PER_REQUEST_KINDS or (kind in SINGLE_GROUP_KINDS and new_group)
        if current and (len(current) >= max_points or size + cost > max_bytes or split_here):
            batches.append(Batch(partition_key, kind, current, size, coalesce))
            current, size, groups = [], base, 0
            cost += 0 if new_group else group_cost
        if new_group or not current:
            groups += 1
        current.append(item)
        size += cost
        last_group = item.group
    if current:
        batches.append(Batch(partition_key, kind, current, size, coalesce))
    return batches
