"""Storage is a plain library: the fleet-storage CLI and the layout never import Dagster."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["fleet_assets.storage.cli", "fleet_assets.storage.layout",
                                    "fleet_assets.storage.publish", "fleet_assets.transforms.rules"])
def test_module_does_not_import_dagster(module):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_resource_builds_the_library_layout(tmp_path):
    from fleet_assets.warehouse.resources import FleetStorage
    from fleet_assets.storage.layout import DataLayout

    resource, layout = FleetStorage(data_dir=str(tmp_path)), DataLayout(tmp_path)
    assert resource.layout == DataLayout(str(tmp_path))
    for attr in ("root", "raw_dir", "duckdb_path", "ledger_path", "landing_dir"):
        assert getattr(resource, attr) == getattr(layout, attr)
    assert resource.dataset("telemetry") == layout.dataset("telemetry")
    assert layout.dataset("telemetry").local_path == tmp_path.resolve() / "parquet" / "telemetry"


def test_layout_defaults_to_fleet_data_dir(tmp_path, monkeypatch):
    from fleet_assets.storage.layout import DataLayout

    monkeypatch.setenv("FLEET_DATA_DIR", str(tmp_path / "d"))
    assert DataLayout().root == (tmp_path / "d").resolve()
