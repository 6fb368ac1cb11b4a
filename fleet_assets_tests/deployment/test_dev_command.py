"""`make dev` (scripts/dev.sh) really starts the platform on embedded defaults, quietly.

The session's deployment (conftest.py) is the same script the Makefile runs;
this checks that the webserver loaded the code location, the ingest API serves
its OpenAPI document, the analytics sandbox serves its store, and start-up printed none of the noise a new user used to
see (issue 12 item 23): Dagster's "dagster.yaml in the current folder ... will
not be used" and BetaWarnings.
"""

import httpx
import pytest

WORKSPACE_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }"


@pytest.mark.slow
def test_make_dev_starts_ui_and_ingest_api(deployment):
    entries = deployment.graphql(WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == ["fleet_assets"]
    assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
    openapi = httpx.get(f"http://127.0.0.1:{deployment.ingest_port}/openapi.json", timeout=5).json()
    assert "/v1/trips" in openapi["paths"]
    assert (deployment.home / "dagster.yaml").read_text().startswith("# Instance config")
    # The analytics sandbox serves the embedded backend's store (what runs upload lives there).
    stats = httpx.get(f"http://127.0.0.1:{deployment.analytics_port}/stats", timeout=5).json()
    assert set(stats["stored"]) == {"gps", "signal", "dtc", "network_stats"}
    assert (deployment.data_dir / "analytics_sandbox.sqlite").exists()


@pytest.mark.slow
def test_dev_startup_output_is_quiet(deployment):
    startup = deployment.startup_output  # up to the code location being loaded, before any test's runs
    assert "Serving dagster-webserver" in startup or "dagster-webserver" in startup, startup[-2000:]
    assert "Found a dagster instance configuration value" not in startup, startup[-3000:]
    assert "BetaWarning" not in startup, startup[-3000:]
    # Not asserted: Dagster's own "SupersessionWarning: ... Use 'dg dev' instead" (the fix would be the dg CLI,
    # dagster-dg-cli, a new dependency).
