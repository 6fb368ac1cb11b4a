"""A new user sees no start-up noise (issue 12 item 23), each removed at its cause.

- loading the code location emits no warning at all (it used to emit ten BetaWarnings
  for ``backfill_policy``);
- the instance config is not a ``dagster.yaml`` in the repository root, which Dagster
  reports as ignored whenever DAGSTER_HOME is set (``make dev`` always sets it);
- the three distributions declare their licence as an SPDX string plus license-files,
  with a setuptools new enough to read it, so pip prints no "project.license as a TOML
  table is deprecated" (checked offline: the build itself would need PyPI).

``dagster dev``'s own start-up output is checked by the deployment harness
(test_deployment.py::test_dev_startup_output_is_quiet).
"""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = {".": "MIT", "protocol": "MIT", "edge_collector": "GPL-2.0-or-later"}


def test_loading_definitions_emits_no_warning():
    env = {k: v for k, v in os.environ.items() if k not in ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN")}
    result = subprocess.run([sys.executable, "-W", "always", "-c", "import fleet_assets.definitions"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def test_no_partitioned_asset_carries_a_beta_backfill_policy():
    """Dagster's default (no policy) already launches one run per partition; see test_deployment for the backfill."""
    from fleet_assets.definitions import defs

    policies = {key.to_user_string(): node.backfill_policy for key, node in ((n.key, n) for n in defs.resolve_asset_graph().asset_nodes)}
    assert policies and all(policy is None for policy in policies.values()), policies


def test_no_instance_config_in_the_repository_root():
    assert not (REPO / "dagster.yaml").exists()
    assert (REPO / "config" / "dagster.yaml").is_file()
    dev = (REPO / "scripts" / "dev.sh").read_text()
    assert "config/dagster.yaml" in dev


@pytest.mark.parametrize(("folder", "spdx"), DISTRIBUTIONS.items())
def test_license_is_an_spdx_string_with_license_files(folder, spdx):
    root = REPO / folder
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["license"] == canonicalize_license_expression(spdx)
    assert project["license-files"] and all(list(root.glob(pattern)) for pattern in project["license-files"])
    requires = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    [setuptools] = [r for r in requires if r.name == "setuptools"]
    floor = min(Version(re.sub(r"^[>=~]+", "", str(s))) for s in setuptools.specifier if s.operator in (">=", "~="))
    assert floor >= Version("77"), "SPDX license strings need setuptools>=77"
