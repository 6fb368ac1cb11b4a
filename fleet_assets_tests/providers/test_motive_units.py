"""Motive units (issue 12 item 3): values come in the company's unit setting unless the request
sends ``X-Metric-Units`` (Motive "System of Units"); we send it on every call and convert on what we
asked for, never on a vehicle's ``metric_units`` flag. Real HTTP against the loopback sandbox."""

import pyarrow.compute as pc
import pytest

from fleet_assets.providers import MotiveClient
from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.transforms import normalize_motive

from .conftest import DAY_END, DAY_START, FAST

DAY = DAY_START.date().isoformat()


def _fetch(company_units: str, metric_units: bool = False):
    cfg = SandboxConfig(motive_vehicles=6, samsara_vehicles=0, interval_s=600, motive_company_units=company_units)
    with serve_in_thread(cfg) as url:
        client = MotiveClient.from_key(cfg.motive_api_key, url, metric_units=metric_units, **FAST)
        result = client.fetch_vehicle_locations(DAY_START, DAY_END)
        served = list(url.backend.requests)
    return result, served


@pytest.mark.parametrize("company_units", ["imperial", "metric"])
@pytest.mark.parametrize("metric_units", [False, True])
def test_header_on_every_call_and_conversion_on_what_was_asked(company_units, metric_units):
    result, served = _fetch(company_units, metric_units)
    assert served and all(r.headers.get("x-metric-units") == ("true" if metric_units else "false") for r in served)
    assert result.units == ("metric" if metric_units else "imperial")
    flags = [v["metric_units"] for v in result.vehicles]
    assert True in flags and False in flags  # the vehicle flags disagree with whatever was asked for
    table = normalize_motive(result.vehicles, result.locations, DAY, units=result.units)
    reference, _ = _fetch("imperial", False)
    truth = normalize_motive(reference.vehicles, reference.locations, DAY, units=reference.units)
    assert table.num_rows == truth.num_rows > 0
    for column in ("speed_mph", "odometer"):
        diff = pc.max(pc.abs(pc.subtract(table[column], truth[column]))).as_py()
        assert diff < 0.1, (column, diff)  # sandbox values are rounded to 0.1 km/h / 0.001 km on the wire
