"""Backend ids for a partition: configurations (one per vehicle), messages (one per PID / DTC), and which id
field the backend's network-stats input takes.

Ids are created once per backend and cached in the ledger right after the
backend issued them, so re-runs create no new configuration rows. A backend
that issues an id the ledger already holds for another configuration forgot
its earlier ids (``StaleIdsError``): the uploader drops the cache and
re-resolves once.
"""

from __future__ import annotations

import logging

from fleet_assets.analytics import wire_items
from fleet_assets.analytics.identity import VehicleIds, resolve_vehicle_ids
from fleet_assets.analytics.ledger_queries import Ledger
from fleet_assets.analytics.operations import alias, coalesced_request, input_variable
from fleet_assets.analytics.sender import AnalyticsSendError, GraphQLSender, RecordsRejectedError, StaleIdsError
from fleet_assets.analytics.upload_report import UploadReport
from fleet_assets.analytics.upload_settings import UploadSettings


def _check_fresh(what: str, created: dict, cached: dict) -> None:
    """A backend that issues an id the ledger already holds for another configuration forgot its earlier ids.

    Sending on would silently attach one vehicle's data to another's id.
    """
    known = {v: k for k, v in cached.items()}
    clash = [(key, known[new_id]) for key, new_id in created.items() if new_id in known and known[new_id] != key]
    if clash:
        raise StaleIdsError(f"create{what.title()} returned {what} id {created[clash[0][0]]} for {clash[0][0]}, "
                            f"but the ledger holds that id for {clash[0][1]}: the backend was reset or replaced")


class IdResolver:
    """Resolves (creates, or reads from the ledger's cache) the backend ids one partition needs."""

    def __init__(self, sender: GraphQLSender, ledger: Ledger, settings: UploadSettings,
                 log: logging.Logger):
        self.sender = sender
        self.ledger = ledger
        self.settings = settings
        self.log = log
        self._overrides = settings.vehicle_overrides()

    def vehicle_ids(self, vehicle_key: str) -> VehicleIds:
        s = self.settings
        return resolve_vehicle_ids(vehicle_key, self._overrides, s.fleet_id, s.organization_id)

    def _create_configurations(self, chunk: list[VehicleIds]) -> dict[VehicleIds, int]:
        """Backend ids for ``chunk``: one request (the reference document, or its coalesced form).

        A coalesced document the backend refuses as a whole (e.g. a gateway's
        alias limit: nothing ran) is split in halves until it passes.
        """
        if len(chunk) == 1:
            data = self.sender.execute("createConfiguration", {"input": chunk[0].as_input()})
            return {chunk[0]: int(data["createConfiguration"]["id"])}
        try:
            data = self.sender.execute("createConfiguration",
                                       {input_variable(i): ids.as_input() for i, ids in enumerate(chunk)},
                                       request=coalesced_request("createConfiguration", len(chunk)))
        except RecordsRejectedError as exc:
            if exc.committed_aliases([alias(i) for i in range(len(chunk))]):
                raise  # some were created: splitting would create them twice
            self.log.warning("createConfiguration with %d aliased fields refused (%s); splitting", len(chunk), exc)
            mid = len(chunk) // 2
            return {**self._create_configurations(chunk[:mid]), **self._create_configurations(chunk[mid:])}
        return {ids: int(data[alias(i)]["id"]) for i, ids in enumerate(chunk)}

    def configurations(self, vehicle_keys: set[str], cached: dict[VehicleIds, int],
                       report: UploadReport) -> dict[str, int]:
        """Configuration id per vehicle key; new ones are created and saved in the ledger at once."""
        wanted = {key: self.vehicle_ids(key) for key in sorted(vehicle_keys)}
        missing = sorted({ids for ids in wanted.values() if ids not in cached})
        size = self.settings.max_aliases_per_request if self.settings.coalesce_mutations else 1
        for start in range(0, len(missing), size):
            created = self._create_configurations(missing[start:start + size])
            _check_fresh("configuration", created, cached)
            self.ledger.save_configurations(created)  # right after the backend created them
            cached.update(created)
            report.configurations_created += len(created)
        return {key: cached[ids] for key, ids in wanted.items()}

    def messages(self, needed: list[dict], cached: dict[str, int], report: UploadReport) -> dict[str, int]:
        """Message id per message key; the missing ones are created in one request and saved in the ledger."""
        missing = [m for m in needed if wire_items.message_key(m) not in cached]
        if missing:
            data = self.sender.execute("createMessage", {"input": {"messages": missing}})
            returned = {wire_items.message_key(m): int(m["id"]) for m in data["createMessage"]}
            unmatched = [wire_items.message_key(m) for m in missing if wire_items.message_key(m) not in returned]
            if unmatched:
                raise AnalyticsSendError(f"createMessage did not return ids for message keys {unmatched}")
            new = {k: returned[k] for k in (wire_items.message_key(m) for m in missing)}
            self.ledger.save_messages(new)
            cached.update(new)
            report.messages_created += len(new)
        return cached

    def network_stats_id_field(self) -> str:
        """IcsAnalytics' probe: configurationId if the input type has it, else vehicleId."""
        try:
            data = self.sender.execute("introspection", None)
        except AnalyticsSendError as exc:
            self.log.warning("network-stats introspection failed (%s); assuming configurationId", exc)
            return "configurationId"
        fields = {f["name"] for f in ((data.get("__type") or {}).get("inputFields") or [])}
        return "configurationId" if "configurationId" in fields or "vehicleId" not in fields else "vehicleId"
