"""The partitions' start date is a setting (FLEET_PARTITIONS_START), read once in fleet_assets.partitions.

Checked in a fresh interpreter: the setting is read when the code location
loads, exactly as `dagster dev` / a run worker would see it.
"""

import os
import subprocess
import sys

import pytest

PROBE = ("from fleet_assets.partitions import DAILY_START_DATE, daily_partitions; "
         "print(DAILY_START_DATE, daily_partitions.get_first_partition_key())")


def _load(value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FLEET_PARTITIONS_START"}
    if value is not None:
        env["FLEET_PARTITIONS_START"] = value
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("value", "expected"), [(None, "2025-01-01"), ("", "2025-01-01"),
                                                 ("2017-01-01", "2017-01-01"), (" 2024-03-05 ", "2024-03-05")])
def test_partitions_start_from_setting(value, expected):
    result = _load(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [expected, expected]


@pytest.mark.parametrize("value", ["2017-13-01", "yesterday", "../x"])
def test_bad_partitions_start_is_one_clear_error(value):
    result = _load(value)
    assert result.returncode != 0
    assert f"FLEET_PARTITIONS_START must be a date YYYY-MM-DD, got {value!r}" in result.stderr
