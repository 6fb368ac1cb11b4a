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


_VALIDATED: dict[int, tuple[DocumentNode, list[str]]] = {}


def _validation_errors(schema: GraphQLSchema, document: DocumentNode) -> list[str]:
    """``validate`` once per document object (the uploader re-sends a handful of parsed documents)."""
    cached = _VALIDATED.get(id(document))
    if cached is None or cached[0] is not document:
        if len(_VALIDATED) > 64:  # documents built on the fly (tests): keep the cache bounded
            _VALIDATED.clear()
        cached = _VALIDATED[id(document)] = (document, [e.message for e in validate(schema, document)])
    return cached[1]


def document_errors(document: DocumentNode, variables: dict[str, Any] | None) -> list[str]:
    """Validation + variable-coercion errors of one request (empty list = valid)."""
    schema = analytics_schema()
    errors = _validation_errors(schema, document)
    if errors:
        return errors
    operation = get_operation_ast(document)
    if operation is None:
        return ["document has no single operation"]
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    if isinstance(coerced, list):
        return [e.message for e in coerced]
    return []
