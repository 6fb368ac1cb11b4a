"""``AnalyticsResource``: the upload settings as a Dagster resource.

Its fields are not written here: they are ``UploadSettings``' fields (same
names, types, defaults, bounds and descriptions), so the resource and the CLI
cannot drift apart. Dagster config accepts nested ``dg.Config`` classes only,
so a nested settings model (``VehicleIdsSetting``) becomes a generated
``dg.Config`` with the same fields. The bearer token is optional (current
IcsAnalytics backends accept unauthenticated requests; old ones want
``Authorization: Bearer $SEC_AUTH_TOKEN``); ``from_env`` binds it with
``dg.EnvVar`` so it never appears in config or logs.
"""

from __future__ import annotations

import typing
from typing import Any

import dagster as dg
import pydantic
from pydantic.fields import FieldInfo

from fleet_assets import settings as env
from fleet_assets.analytics.upload_settings import UploadSettings, setting_meta
from fleet_assets.analytics.wiring import endpoint_label


def _as_config_type(annotation: Any) -> Any:
    """The Dagster-config form of a settings type: nested pydantic models become ``dg.Config`` classes."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return pydantic.create_model(annotation.__name__.removesuffix("Setting") + "Config", __base__=dg.Config,
                                     __module__=__name__, **_fields_of(annotation))
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict:
        return dict[args[0], _as_config_type(args[1])]  # type: ignore[misc]
    return annotation


def _fields_of(model: type[pydantic.BaseModel]) -> dict[str, tuple[Any, FieldInfo]]:
    return {name: (_as_config_type(info.annotation), info) for name, info in model.model_fields.items()}


class _AnalyticsResourceBase(dg.ConfigurableResource):
    """GraphQL analytics backend settings (IcsAnalytics-compatible); fields: ``UploadSettings``."""

    @classmethod
    def from_env(cls) -> "AnalyticsResource":
        """Bind endpoint/token to env vars when they are set (values resolved at run start, never at import)."""
        kwargs: dict = {}
        if endpoint_var := env.analytics_endpoint_env_var():
            kwargs["endpoint"] = dg.EnvVar(endpoint_var)
        (token_var,) = setting_meta("auth_token")["env"]
        if env.is_set(token_var):
            kwargs["auth_token"] = dg.EnvVar(token_var)
        return cls(**kwargs)

    @property
    def endpoint_label(self) -> str:
        return endpoint_label(self.endpoint)  # type: ignore[attr-defined]

    def upload_settings(self) -> UploadSettings:
        """This resource's values as the library's settings (call at run time, when EnvVars are resolved)."""
        return UploadSettings.model_validate(self, from_attributes=True)


# The one place the resource's fields come from: UploadSettings.
AnalyticsResource = pydantic.create_model("AnalyticsResource", __base__=_AnalyticsResourceBase, __module__=__name__,
                                          **_fields_of(UploadSettings))
AnalyticsResource.__doc__ = _AnalyticsResourceBase.__doc__
