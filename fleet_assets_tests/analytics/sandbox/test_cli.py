"""The analytics sandbox's command line: a bad argument is ONE line and exit 2, no traceback, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fleet_assets.analytics.sandbox.cli import main


@pytest.mark.parametrize("argv,message", [
    (["--host", "0.0.0.0"], "--host: the sandbox only binds to loopback addresses"),
    (["--fault-rate", "2"], "--fault-rate: fault rates add up to 2.00 > 1"),
    (["--poison-rate", "-0.5"], "--poison-rate: fault rate poison_rate=-0.5 must be within [0, 1]"),
    (["--port", "x"], "argument --port: invalid int value: 'x'"),
])
def test_bad_arguments_are_one_line_exit_2_and_create_no_store(tmp_path, capsys, argv, message):
    store = tmp_path / "analytics_sandbox.sqlite"
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--store", str(store), "--port", "0"] if argv[0] != "--port" else [*argv, "--store", str(store)])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert "usage:" not in err and not store.exists()


def test_bad_argument_through_the_real_entry_point_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "fleet_assets.analytics.sandbox.cli", "--fault-rate", "2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
