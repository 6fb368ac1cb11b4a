"""Bad credentials, TLS options and tolerant wire models."""

import logging

import pytest

from fleet_assets.providers import ProviderAuthError, ProviderConfigError, REGISTRY
from fleet_assets.providers.models import MotiveVehicleLocation, SamsaraAssignment, SamsaraStatsRecord
from fleet_assets.providers.paging import unwrap
from fleet_assets.providers.client_settings import parse_verify

from .conftest import DAY_END, DAY_START

SECRET = "sk-live-DO-NOT-PRINT-7f3a9c"


@pytest.mark.parametrize("provider,env_var", [("motive", "MOTIVE_API_KEY"), ("samsara", "SAMSARA_API_TOKEN")])
def test_bad_credentials_give_one_clear_error_without_the_key(rig, caplog, provider, env_var):
    r = rig(vehicles=30, motive_key=SECRET, samsara_token=SECRET)
    client = getattr(r, provider)
    fetch = client.fetch_vehicle_locations if provider == "motive" else client.fetch_stats_history
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ProviderAuthError) as info:
            fetch(DAY_START, DAY_END)
    msg = str(info.value)
    assert msg.startswith(f"{provider} ") and "HTTP 401" in msg and f"Set {env_var}" in msg
    assert len(r.backend.requests) == 1  # no retry storm, no per-vehicle fan-out
    assert SECRET not in msg and SECRET not in caplog.text and SECRET not in repr(client)
    body = "invalid API key" if provider == "motive" else "Unauthorized"
    assert body in msg  # the provider's own body shape is surfaced
    # the session remembers nothing across calls, but each call fails after one request
    with pytest.raises(ProviderAuthError):
        fetch(DAY_START, DAY_END)
    assert len(r.backend.requests) == 2


def test_verify_ssl_options(tmp_path):
    assert parse_verify(True) is True and parse_verify("false") is False and parse_verify("TRUE") is True
    with pytest.raises(ProviderConfigError, match="CA bundle '/nonexistent/ca.pem' does not exist"):
        parse_verify("/nonexistent/ca.pem", "motive")
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ProviderConfigError, match="is not a PEM certificate bundle"):
        parse_verify(str(junk), "samsara")
    import certifi

    ctx = parse_verify(certifi.where())
    assert ctx.verify_mode.name == "CERT_REQUIRED" and ctx.cert_store_stats()["x509_ca"] > 10


def test_unknown_enum_values_and_open_ended_assignments_are_accepted(caplog):
    ep = REGISTRY.get("samsara", "driver_vehicle_assignments")
    page = {"data": [
        {"driver": {"id": "1", "name": "A"}, "vehicle": {"id": "9"}, "startTime": "2026-03-02T08:00:00Z",
         "assignedAtTime": "", "assignmentType": "quantumBadge", "isPassenger": False},
        {"driver": {"id": "2", "name": "B"}, "vehicle": {"id": "9"}, "startTime": "2026-03-02T08:00:00.000Z",
         "endTime": "2026-03-02T12:00:00Z", "assignedAtTime": "2026-03-02T07:59:00Z", "assignmentType": "HOS",
         "isPassenger": True, "metadata": {"sourceName": "x"}},
    ]}
    with caplog.at_level(logging.INFO, logger="fleet_assets.providers.models"):
        raw, models = unwrap(ep, page, "page 1", None)
    assert raw == page["data"]  # wire records untouched
    a, b = models
    assert isinstance(a, SamsaraAssignment) and a.endTime is None and a.assignedAtTime is None
    assert a.assignmentType == "quantumBadge" and "quantumBadge" in caplog.text
    assert b.endTime.hour == 12 and b.isPassenger
    stats = SamsaraStatsRecord.model_validate({"id": "1", "engineStates": [{"time": "2026-03-02T08:00:00Z",
                                                                            "value": "Hibernating"}]})
    assert stats.engineStates[0].value == "Hibernating"
    loc = MotiveVehicleLocation.model_validate({"id": "u", "located_at": "2026-03-02T09:00:00+09:00", "lat": 1,
                                                "lon": 2, "type": "teleported"})
    assert loc.located_at.utcoffset().total_seconds() == 9 * 3600 and loc.type == "teleported"


def test_malformed_records_and_envelopes_give_clear_errors():
    from fleet_assets.providers import ProviderResponseError

    locs = REGISTRY.get("motive", "vehicle_locations")
    with pytest.raises(ProviderResponseError, match=r"motive vehicle_locations: response: invalid record at "
                                                    r"0.located_at: Field required"):
        unwrap(locs, {"vehicle_locations": [{"vehicle_location": {"id": "x", "lat": 1, "lon": 2}}]}, "response", None)
    with pytest.raises(ProviderResponseError, match=r'item 0 is not wrapped as \{"vehicle_location"'):
        unwrap(locs, {"vehicle_locations": [{"id": "x"}]}, "response", None)
    with pytest.raises(ProviderResponseError, match="'vehicle_locations' is dict, expected a list"):
        unwrap(locs, {"vehicle_locations": {}}, "response", None)
