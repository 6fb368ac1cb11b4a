"""Variable coercion of signal points without graphql-core's per-value walk, with exactly its result.

Why: a day is ~10^8 signal points, and graphql-core coerces every point of an
``upsertSignalData`` request field by field (plus a nesting-depth walk of the
whole input): ~30 µs per point, most of the sandbox's time (benchmarks/RESULTS.md).

How, without loosening anything: a point is *plain* when graphql-core would
coerce it to an equal dict, i.e. a dict whose keys are among ``SignalDataInput``'s
(``value: Float``, ``svalue: String``, ``time: String!``, no defaults) with
``time`` a str, ``value`` None or a finite float and ``svalue`` None or a str.
When every point of a group is plain, graphql-core coerces the request with only
the group's first point and the group's full list is put back afterwards (its
points coerce to themselves). Any other point (an int, a bool, NaN, a missing
``time``, an unknown field) sends the whole request through graphql-core as
before, so errors and their messages are graphql-core's own.
"""

from __future__ import annotations

from math import isfinite
from typing import Any

from graphql import ExecutionContext
from graphql.language import NamedTypeNode, NonNullTypeNode

SIGNALS_INPUT = "UpsertSignalDataInput"
POINT_FIELDS = frozenset(("value", "svalue", "time"))


def is_plain_point(point: Any) -> bool:
    """Whether graphql-core would coerce ``point`` (a ``SignalDataInput``) to an equal dict."""
    if type(point) is not dict or not POINT_FIELDS.issuperset(point) or type(point.get("time")) is not str:
        return False
    value, svalue = point.get("value"), point.get("svalue")
    return ((value is None or (type(value) is float and isfinite(value)))
            and (svalue is None or type(svalue) is str))


def _signals_variables(operation) -> list[str]:
    """Names of the operation's variables of type ``UpsertSignalDataInput`` (nullable or not)."""
    names = []
    for definition in operation.variable_definitions or ():
        type_node = definition.type.type if isinstance(definition.type, NonNullTypeNode) else definition.type
        if isinstance(type_node, NamedTypeNode) and type_node.name.value == SIGNALS_INPUT:
            names.append(definition.variable.name.value)
    return names


def _plain_groups(value: Any) -> dict[int, list] | None:
    """``{signal index: data list}`` of the groups whose points are all plain (None: nothing to shorten)."""
    if type(value) is not dict or type(value.get("signals")) is not list:
        return None
    groups = {}
    for index, signal in enumerate(value["signals"]):
        if type(signal) is dict and type(signal.get("data")) is list and len(signal["data"]) > 1 \
                and all(map(is_plain_point, signal["data"])):
            groups[index] = signal["data"]
    return groups or None


class PlainPointsExecutionContext(ExecutionContext):
    """graphql-core's execution context; coerces the plain signal points as described in the module doc."""

    @classmethod
    def build(cls, schema, document, root_value=None, context_value=None, raw_variable_values=None,
              *args: Any, **kwargs: Any):
        operations = [d for d in document.definitions if d.__class__.__name__ == "OperationDefinitionNode"]
        shortened: dict[str, dict[int, list]] = {}
        variables = raw_variable_values
        if len(operations) == 1 and isinstance(raw_variable_values, dict):
            for name in _signals_variables(operations[0]):
                groups = _plain_groups(raw_variable_values.get(name))
                if groups:
                    shortened[name] = groups
            if shortened:
                variables = dict(raw_variable_values)
                for name, groups in shortened.items():
                    signals = [dict(s, data=s["data"][:1]) if i in groups else s
                               for i, s in enumerate(raw_variable_values[name]["signals"])]
                    variables[name] = {**raw_variable_values[name], "signals": signals}
        context = super().build(schema, document, root_value, context_value, variables, *args, **kwargs)
        if shortened and isinstance(context, ExecutionContext):
            for name, groups in shortened.items():
                coerced = context.variable_values[name]["signals"]
                for index, data in groups.items():
                    coerced[index]["data"] = data  # plain points coerce to themselves
        return context

