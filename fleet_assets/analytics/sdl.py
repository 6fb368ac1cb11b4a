"""The IcsAnalytics GraphQL schema, loaded once from package data.

The uploader validates every document and coerces every variable set against
it before sending, so a payload an existing backend would reject is caught
here with a clear message instead of failing (and being retried) remotely.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from graphql import DocumentNode, GraphQLSchema, build_schema, get_operation_ast, validate
from graphql.execution.values import get_variable_values

SDL_FILE = "analytics_schema.graphql"


@lru_cache(maxsize=1)
def sdl_text() -> str:
    return resources.files("fleet_assets.analytics").joinpath(SDL_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def analytics_schema() -> GraphQLSchema:
    return build_schema(sdl_text())


def document_errors(document: DocumentNode, variables: dict[str, Any] | None) -> list[str]:
    """Validation + variable-coercion errors of one request (empty list = valid)."""
    schema = analytics_schema()
    errors = [e.message for e in validate(schema, document)]
    if errors:
        return errors
    operation = get_operation_ast(document)
    if operation is None:
        return ["document has no single operation"]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return [e.message for e in coerced]
    return []
