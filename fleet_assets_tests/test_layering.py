"""Import layering: libraries never import Dagster, and no module imports a layer above it.

Layers, lowest first (README "Inside fleet_assets/"):
1. base: ``settings`` (environment), ``schema`` (the unified telemetry schema), ``days`` (the
   UTC day window and partition key), and the
   ``fleet_protocol`` wire contract;
2. libraries: ``providers``, ``sandbox``, ``transforms``, ``storage``, ``ingest``: plain
   Python, no Dagster, tested on their own;
3. Dagster: ``partitions``, ``executor``, ``dataset_checks``, ``run_worker`` and the areas (``provider_ingest``, ``trips``,
   ``warehouse``, ``analytics``); an area may use another area only through
   ``warehouse.resources`` (the ``FleetStorage`` resource every area shares);
4. ``definitions``: assembles the areas; nothing imports it.

Checked statically (every ``import`` in the source, including ones inside functions) and,
for Dagster, also dynamically: importing every library module in a fresh interpreter
leaves ``dagster`` out of ``sys.modules``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "fleet_assets"
PROTOCOL = REPO / "protocol" / "fleet_protocol"

BASE = {"settings", "schema", "days"}
LIBRARIES = {"providers", "sandbox", "transforms", "storage", "ingest", "state"}
DAGSTER_TOP = {"partitions", "executor", "dataset_checks", "run_worker"}
AREAS = {"provider_ingest", "trips", "warehouse", "analytics"}
SHARED_AREA_MODULE = "fleet_assets.warehouse.resources"



def _imports(path: Path) -> list[str]:
    """Absolute module names imported by ``path`` (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _layer_of(path: Path) -> str:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return top


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _is_dagster(name: str) -> bool:
    return name == "dagster" or name.startswith(("dagster.", "dagster_"))


def _fleet_top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if parts[0] == "fleet_assets" and len(parts) > 1 else None


def test_the_layers_cover_every_top_level_module():
    tops = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")}
    assert tops == BASE | LIBRARIES | DAGSTER_TOP | AREAS | {"definitions"}


def test_base_and_libraries_import_no_dagster_and_nothing_above_them():
    bad = []
    for path in _sources(PACKAGE):
        layer = _layer_of(path)
        if layer not in BASE | LIBRARIES:
            continue
        allowed = BASE if layer in BASE else BASE | LIBRARIES
        for name in _imports(path):
            top = _fleet_top(name)
            if _is_dagster(name) or (top is not None and top not in allowed):
                bad.append(f"{_rel(path)} imports {name}")
    assert not bad, bad


def test_settings_imports_nothing_of_the_platform():
    assert not [n for n in _imports(PACKAGE / "settings.py") if n.startswith("fleet_assets")]


def test_protocol_imports_neither_dagster_nor_the_platform():
    bad = [f"{_rel(p)} imports {n}" for p in _sources(PROTOCOL) for n in _imports(p)
           if _is_dagster(n) or n.startswith(("fleet_assets", "edge_collector"))]
    assert not bad, bad


def test_areas_use_other_areas_only_through_the_shared_storage_resource():
    bad = []
    for path in _sources(PACKAGE):
        layer = _layer_of(path)
        if layer not in AREAS:
            continue
        for name in _imports(path):
            top = _fleet_top(name)
            if top == "definitions":
                bad.append(f"{_rel(path)} imports {name}")
            elif top in AREAS and top != layer and not name.startswith(SHARED_AREA_MODULE):
                bad.append(f"{_rel(path)} imports {name}")
    assert not bad, bad


def test_nothing_in_the_package_imports_the_definitions_module():
    bad = []
    for path in _sources(PACKAGE):
        for name in _imports(path):
            if _fleet_top(name) == "definitions":
                bad.append(f"{_rel(path)} imports {name}")
    assert not bad, bad


def test_library_modules_load_without_dagster():
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in _sources(PACKAGE)
        if _layer_of(p) in BASE | LIBRARIES and p.name != "__main__.py"
    )
    assert len(modules) > 40, modules
    probe = ("import importlib, sys\n"
             f"for m in {modules!r}: importlib.import_module(m)\n"
             "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith(('dagster.', 'dagster_'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=180, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
