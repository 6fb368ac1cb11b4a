"""Each upload setting is declared once (``UploadSettings``): the resource's fields and the CLI's flags are
derived from it, with the same defaults and descriptions, and the CLI can set everything the resource can."""

from __future__ import annotations

import argparse

import pytest

from fleet_assets.analytics.cli import build_parser, main, settings_from_args
from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.analytics.upload_settings import UploadSettings, setting_meta

SETTINGS = UploadSettings.model_fields
NOT_ON_THE_COMMAND_LINE = {"auth_token"}  # a secret: the CLI reads it from the env var named by --token-env


def _actions() -> dict[str, argparse.Action]:
    return {flag: action for action in build_parser()._actions for flag in action.option_strings}


def test_resource_fields_are_the_settings_fields_with_the_same_defaults_and_descriptions():
    resource_fields = AnalyticsResource.model_fields
    assert list(resource_fields) == list(SETTINGS)
    for name, info in SETTINGS.items():
        assert resource_fields[name].description == info.description, name
        assert resource_fields[name].get_default(call_default_factory=True) == \
            info.get_default(call_default_factory=True), name
        assert resource_fields[name].metadata == info.metadata, name  # bounds (ge/le/gt)
    config_fields = AnalyticsResource.to_config_schema().as_field().config_type.fields
    assert {name: field.description for name, field in config_fields.items()} == \
        {name: info.description for name, info in SETTINGS.items()}  # what the Dagster UI shows


def test_every_setting_is_a_cli_flag_with_the_same_default_and_description():
    actions = _actions()
    assert {name for name in SETTINGS if setting_meta(name)["flag"] is None} == NOT_ON_THE_COMMAND_LINE
    assert actions["--token-env"].default == setting_meta("auth_token")["env"][0]
    for name, info in SETTINGS.items():
        flag = setting_meta(name)["flag"]
        if flag is None:
            continue
        action = actions[flag]
        assert action.dest == name, flag
        assert action.default == info.get_default(call_default_factory=True), flag
        assert action.help.startswith(info.description.replace("%", "%%")), flag


def test_cli_values_become_the_same_settings_the_resource_gives(tmp_path):
    vehicle = '{"1FTEST0000000001": {"device_id": 7, "vehicle_id": 8, "fleet_id": 9, "organization_id": 10}}'
    parser = build_parser()
    args = parser.parse_args([
        "--date", "2025-06-01", "--endpoint", "http://127.0.0.1:9/graphql", "--fleet-id", "42",
        "--organization-id", "43", "--vehicle-ids", vehicle, "--ledger-lock-timeout", "5", "--backend-id", "lab",
        "--backoff-max", "2.5", "--no-verify-ssl", "--verbatim-documents", "--validate", "full",
        "--token-env", "NOPE_X"])
    from_cli = settings_from_args(parser, args)
    resource = AnalyticsResource(
        endpoint="http://127.0.0.1:9/graphql", fleet_id=42, organization_id=43, ledger_lock_timeout_seconds=5,
        backend_id="lab", backoff_max_seconds=2.5, verify_ssl=False, coalesce_mutations=False,
        validate_payloads="full",
        vehicle_ids={"1FTEST0000000001": {"device_id": 7, "vehicle_id": 8, "fleet_id": 9, "organization_id": 10}})
    assert from_cli == resource.upload_settings()
    assert from_cli.vehicle_overrides()["1FTEST0000000001"].device_id == 7
    defaults = settings_from_args(parser, parser.parse_args(["--date", "2025-06-01", "--endpoint", "http://x"]))
    assert defaults == AnalyticsResource(endpoint="http://x").upload_settings() == UploadSettings(endpoint="http://x")


@pytest.mark.parametrize("argv,message", [
    (["--max-in-flight", "9"], "--max-in-flight: Input should be less than or equal to 8 (got 9)"),
    (["--fleet-id", str(2**31)], "--fleet-id: Input should be less than or equal to 2147483647"),
    (["--vehicle-ids", "{nope"], "argument --vehicle-ids: not JSON"),
    (["--vehicle-ids", '{"V": {"device_id": 1}}'], "--vehicle-ids: Field required"),
])
def test_out_of_bounds_settings_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(["--date", "2025-06-01", "--endpoint", "http://127.0.0.1:9/graphql", "--data-dir", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_the_library_defaults_are_the_settings_defaults(tmp_path):
    from fleet_assets.analytics.ledger import UploadLedger
    from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy

    defaults = UploadSettings()
    assert RetryPolicy() == RetryPolicy(defaults.max_attempts, defaults.backoff_initial_seconds,
                                        defaults.backoff_max_seconds)
    assert UploadLedger(tmp_path / "l.duckdb", "x").lock_timeout_seconds == defaults.ledger_lock_timeout_seconds
    sender = GraphQLSender("http://127.0.0.1:9/graphql")
    assert sender._transport_kwargs["timeout"] == defaults.timeout_seconds
    assert sender._transport_kwargs["verify"] == defaults.verify_ssl
