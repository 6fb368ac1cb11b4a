"""The collector runs on a Pi without the platform stack: no dagster, duckdb, pandas or pyarrow.

Checked twice: at run time (import every module in a fresh interpreter) and at
install time (the requirement closure of ``fleet-edge-collector`` per
importlib.metadata, extras excluded, since ``pip install ./edge_collector``
installs exactly that closure).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata


FORBIDDEN = ("dagster", "duckdb", "pandas", "pyarrow")

_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import edge_collector
names = [m.name for m in pkgutil.walk_packages(edge_collector.__path__, "edge_collector.")]
for name in names:
    importlib.import_module(name)
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[1:]))
print(json.dumps({"modules": names, "heavy": heavy}))
"""


def test_importing_every_module_pulls_in_no_heavy_dependency():
    out = subprocess.run([sys.executable, "-c", _IMPORT_ALL, *FORBIDDEN], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["heavy"] == []
    # the walk really covered the package, including the subpackages
    for expected in ("edge_collector.buffer", "edge_collector.chunking", "edge_collector.cli",
                     "edge_collector.commands.run", "edge_collector.upload.uploader"):
        assert expected in result["modules"]


def _requirement_names(dist: metadata.Distribution) -> set[str]:
    """Names of the unconditional requirements (markers mentioning ``extra`` are optional)."""
    from packaging.requirements import Requirement

    names = set()
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is not None and (("extra" in str(req.marker)) or not req.marker.evaluate({"extra": ""})):
            continue
        names.add(req.name)
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(root: str) -> set[str]:
    seen, todo = set(), [root]
    while todo:
        name = _normalise(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_requirement_names(metadata.distribution(name)))
    return seen


def test_install_closure_has_no_heavy_dependency():
    closure = requirement_closure("fleet-edge-collector")
    assert {"fleet-edge-collector", "fleet-protocol", "obd", "pyserial", "pynmea2", "httpx"} <= closure
    assert not closure & {_normalise(n) for n in FORBIDDEN}, sorted(closure)
    # the test-only, non-commercial emulator must not leak into the runtime closure
    assert "elm327-emulator" not in closure


def test_closure_walker_sees_extras_separately():
    """Guard against a walker that silently returns nothing: the test extra is real and excluded."""
    dist = metadata.distribution("fleet-edge-collector")
    assert any("elm327-emulator" in _normalise(r) and "extra" in r for r in dist.requires or [])
