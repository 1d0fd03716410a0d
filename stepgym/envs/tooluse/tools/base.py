"""Tools: typed Python functions with a JSON schema taken from their hints and docstring.

    @tool
    def convert(amount: float, rate: float = 1.1) -> str:
        '''Convert an amount of money at an exchange rate.

        Args:
            amount: the amount to convert
            rate: units of the target currency per unit of the source
        '''
        return f"{amount * rate:.2f}"

`convert.schema` is the OpenAI/Qwen function schema; `convert({"amount": 3})` validates the
arguments against it and returns the text result, or raises `ToolError` with a message the
model can read.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin


class ToolError(Exception):
    """A tool call failed in a way the model should read (bad arguments, runtime failure)."""


_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


def json_schema_for(hint: Any, where: str = "") -> dict[str, Any]:
    """The JSON schema for one type hint (str, int, float, bool, list[...], dict, Literal, Optional).

    >>> json_schema_for(list[int])
    {'type': 'array', 'items': {'type': 'integer'}}
    >>> json_schema_for(Literal["a", "b"])
    {'type': 'string', 'enum': ['a', 'b']}
    """
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        kinds = {type(a) for a in args}
        if len(kinds) != 1 or next(iter(kinds)) not in _SIMPLE:
            raise TypeError(f"{where}Literal values must share one simple type, got {args!r}")
        return {"type": _SIMPLE[next(iter(kinds))], "enum": list(args)}
    if origin in (list, tuple) or hint in (list, tuple):
        items = [a for a in args if a is not Ellipsis]
        schema: dict[str, Any] = {"type": "array"}
        if items:
            schema["items"] = json_schema_for(items[0], where)
        return schema
    if origin is dict or hint is dict:
        return {"type": "object"}
    if origin in (Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return json_schema_for(non_none[0], where)
    raise TypeError(
        f"{where}type hint {hint!r} has no JSON schema; use str, int, float, bool, list[...], "
        "dict, Literal[...] or X | None")


def _doc_parts(doc: str) -> tuple[str, dict[str, str]]:
    """(description, {param: description}) from a Google-style docstring."""
    doc = inspect.cleandoc(doc or "")
    head, _, rest = doc.partition("\nArgs:")
    description = " ".join(head.split("\n\n")[0].split())
    params: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        m = re.match(r"^\s{2,}(\w+)\s*(?:\([^)]*\))?:\s*(.*)$", line)
        if m:
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current and line.strip() and not re.match(r"^\S", line):
            params[current] += " " + line.strip()
        elif line.strip() and re.match(r"^\S", line):
            break  # next section (Returns:, ...)
    return description, params


def _check_value(value: Any, schema: dict[str, Any], name: str) -> Any:
    """`value` checked against a schema made by `json_schema_for` (ints widen to floats)."""
    kind = schema.get("type")
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(kind, True)
    if not ok:
        raise ToolError(f"argument {name!r} must be {kind}, got {type(value).__name__} {value!r:.60}")
    if "enum" in schema and value not in schema["enum"]:
        raise ToolError(f"argument {name!r} must be one of {schema['enum']}, got {value!r:.60}")
    if kind == "number":
        return float(value)
    if kind == "array" and "items" in schema:
        return [_check_value(v, schema["items"], f"{name}[{i}]") for i, v in enumerate(value)]
    return value


@dataclass
class Tool:
    """A callable the model may use: name, description, JSON-schema parameters and the function."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any] = field(repr=False)

    @property
    def schema(self) -> dict[str, Any]:
        """The function schema in the OpenAI / Qwen chat-template format."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description,
                             "parameters": self.parameters}}

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Arguments checked against the schema; ToolError naming the problem otherwise."""
        if not isinstance(arguments, dict):
            raise ToolError(f"{self.name}: arguments must be a JSON object, got {type(arguments).__name__}")
        props = self.parameters.get("properties", {})
        unknown = sorted(set(arguments) - set(props))
        if unknown:
            raise ToolError(f"{self.name}: unknown argument(s) {unknown}; expected {sorted(props)}")
        missing = [p for p in self.parameters.get("required", []) if p not in arguments]
        if missing:
            raise ToolError(f"{self.name}: missing required argument(s) {missing}")
        return {k: _check_value(v, props[k], f"{self.name}.{k}") for k, v in arguments.items()}

    def __call__(self, arguments: dict[str, Any] | None = None, **kwargs: Any) -> str:
        """Validate, run, and return the result as text (dicts and lists become JSON)."""
        args = self.validate({**(arguments or {}), **kwargs})
        try:
            out = self.fn(**args)
        except ToolError:
            raise
        except Exception as exc:  # a user tool's bug is reported to the model, not raised
            raise ToolError(f"{self.name} failed: {type(exc).__name__}: {exc}") from exc
        if isinstance(out, str):
            return out
        import json

        return json.dumps(out, ensure_ascii=False, default=str)


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None,
         description: str | None = None) -> Any:
    """Decorator: a `Tool` from a typed function (schema from hints, descriptions from the docstring)."""

    def wrap(f: Callable[..., Any]) -> Tool:
        tool_name = name or f.__name__
        where = f"tool {tool_name!r}: "
        hints = typing.get_type_hints(f)
        desc, param_docs = _doc_parts(f.__doc__ or "")
        props: dict[str, Any] = {}
        required: list[str] = []
        for pname, param in inspect.signature(f).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"{where}*args/**kwargs cannot be described by a JSON schema")
            if pname not in hints:
                raise TypeError(f"{where}parameter {pname!r} needs a type hint")
            schema = json_schema_for(hints[pname], where)
            if pname in param_docs:
                schema["description"] = param_docs[pname]
            if param.default is inspect.Parameter.empty:
                required.append(pname)
            elif param.default is not None:
                schema["default"] = param.default
            props[pname] = schema
        parameters = {"type": "object", "properties": props, "required": required}
        return Tool(tool_name, description or desc or tool_name, parameters, f)

    return wrap(fn) if fn is not None else wrap
