"""Dagster side of the dataset rules: asset check specs and results from the one rule set.

Specs are declared from ``DATASET_RULES`` (so a rule and its asset check can
never drift apart) and results are reported from what
:func:`fleet_assets.storage.publish.publish_partition` re-checked on the
landed partition. All blocking: a failed rule on landed data stops downstream
assets from consuming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg

from fleet_assets.transforms.rules import DATASET_RULES


def check_specs(dataset: str, extra: Iterable[str] = ()) -> list[dg.AssetCheckSpec]:
    """One blocking check per rule of ``dataset`` (plus ``extra`` checks the asset computes itself)."""
    names = (*DATASET_RULES[dataset].names, *extra)
    return [dg.AssetCheckSpec(name, asset=dataset, blocking=True) for name in names]


def check_results(dataset: str, checks: Mapping[str, tuple[bool, dict]]) -> list[dg.AssetCheckResult]:
    return [dg.AssetCheckResult(asset_key=dataset, check_name=name, passed=ok, metadata=meta)
            for name, (ok, meta) in checks.items()]
