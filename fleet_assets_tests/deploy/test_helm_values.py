"""deploy/helm/values.yaml, deploy/dagster.yaml and the Dockerfile describe one deployment.

No helm binary or chart schema is available offline (see the notes of issue 11), so this checks what can
drift between our own files: the code location module, the port, the run limits, pools and retries.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _load(rel: str) -> dict:
    return yaml.safe_load((REPO / rel).read_text())


def test_helm_values_match_the_instance_config_and_the_image():
    values, instance = _load("deploy/helm/values.yaml"), _load("deploy/dagster.yaml")
    module = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = re.search(r'^CMD \[(.*)\]$', dockerfile, re.M).group(1)

    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module] and f'"{module}"' in cmd
    assert f'"{deployment["port"]}"' in cmd and f"EXPOSE {deployment['port']}" in dockerfile
    assert deployment["podSecurityContext"]["runAsUser"] == int(re.search(r"^USER (\d+)$", dockerfile, re.M).group(1))
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    secrets = {s["name"] for s in deployment["envSecrets"]}
    assert secrets == {s["name"] for s in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]}
    # Nothing secret in the values file: only names of secrets.
    env = {e["name"] for e in deployment["env"]}
    assert not env & {"FLEET_STATE_URL", "AWS_SECRET_ACCESS_KEY", "MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN"}

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlScheme"] == "postgresql+psycopg2"  # see deploy/dagster.yaml
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert values["concurrency"]["pools"] == {"granularity": instance["concurrency"]["pools"]["granularity"],
                                             "defaultLimit": instance["concurrency"]["pools"]["default_limit"]}
    assert daemon["runRetries"] == {"enabled": True, "maxRetries": instance["run_retries"]["max_retries"],
                                    "retryOnAssetOrOpFailure": instance["run_retries"]["retry_on_asset_or_op_failure"]}
    assert daemon["runMonitoring"]["enabled"] and instance["run_monitoring"]["enabled"]
