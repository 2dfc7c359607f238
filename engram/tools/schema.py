"""The JSON schema of a tool, read from its Python source without running it.

The source is parsed with ``ast`` only: a server must never execute code a client sends
just to describe it. The tool is the source's last public top-level function; its name,
docstring and annotated signature give the schema's name, description and parameters.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engram.errors import InvalidInput
from engram.tools.docstrings import parse_docstring

FIELD = "source_code"
# What OpenAI-compatible providers accept as a function name.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Letta passes the agent's state to a parameter of this name; it is not the model's to fill.
INJECTED_PARAMETERS = {"agent_state"}

_SCALARS = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "Any": {},
    "object": {},
}
_ARRAYS = {"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection", "set", "Set"}
_ARRAYS |= {"frozenset", "FrozenSet", "tuple", "Tuple"}
_OBJECTS = {"dict", "Dict", "Mapping", "MutableMapping"}
_UNIONS = {"Union", "Optional"}
_ENUM_BASES = {"Enum", "StrEnum", "IntEnum"}
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}
# The `type X = ...` statement exists from Python 3.12.
_TYPE_ALIAS: Any = getattr(ast, "TypeAlias", None)


@dataclass
class _Names:
    """Module-level names an annotation may refer to: enums and type aliases."""

    enums: dict[str, list[Any]] = field(default_factory=dict)
    aliases: dict[str, ast.expr] = field(default_factory=dict)


def parse_source(source: str) -> ast.Module:
    """The module's syntax tree; 422 naming the line when it does not parse."""
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise InvalidInput(FIELD, f"is not valid Python{where}: {exc.msg}") from exc
    except ValueError as exc:  # e.g. a NUL byte
        raise InvalidInput(FIELD, f"is not valid Python: {exc}") from exc
    except (RecursionError, MemoryError) as exc:
        raise InvalidInput(FIELD, "nests expressions too deeply to parse") from exc


def find_function(
    module: ast.Module, name: str | None = None
) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The top-level function called ``name``, or else the last public one."""
    functions = [
        node for node in module.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    if name is not None:
        for function in functions:
            if function.name == name:
                return function
        raise InvalidInput(FIELD, f"defines no top-level function named '{name}'")
    if not functions:
        raise InvalidInput(
            FIELD, "defines no function: define a top-level function whose signature is the tool"
        )
    public = [function for function in functions if not function.name.startswith("_")]
    return (public or functions)[-1]


def function_schema(source: str, name: str | None = None) -> dict[str, Any]:
    """``{"name", "description", "parameters"}`` for the tool function in ``source``.

    Raises ``InvalidInput`` (field ``source_code``) when the source does not parse, defines
    no function, or a parameter lacks a type annotation or has one JSON cannot express.
    """
    module = parse_source(source)
    try:
        return _schema_of(module, name)
    except RecursionError as exc:
        raise InvalidInput(FIELD, "nests type annotations too deeply to read") from exc


def _schema_of(module: ast.Module, name: str | None) -> dict[str, Any]:
    function = find_function(module, name)
    check_tool_name(function.name, FIELD)
    doc = parse_docstring(ast.get_docstring(function))
    names = _module_names(module)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg, default in _parameters(function):
        if arg.arg in INJECTED_PARAMETERS:
            continue
        where = f"parameter '{arg.arg}' of {function.name}()"
        if arg.annotation is None:
            raise InvalidInput(
                FIELD, f"{where} has no type annotation; annotate it, e.g. '{arg.arg}: str'"
            )
        prop = _type_schema(arg.annotation, names, where)
        if arg.arg in doc.params and doc.params[arg.arg]:
            prop["description"] = doc.params[arg.arg]
        if default is None:
            required.append(arg.arg)
        else:
            _add_default(prop, default)
        properties[arg.arg] = prop
    return {
        "name": function.name,
        # The summary, as Letta does: the model reads it on every call, so it should be short.
        "description": doc.summary,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def check_tool_name(name: str, field_name: str) -> None:
    if not TOOL_NAME.match(name):
        raise InvalidInput(
            field_name,
            f"tool name '{name}' must be 1-64 ASCII letters, digits, '_' or '-' "
            "(what LLM providers accept)",
        )


def _parameters(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
) -> list[tuple[ast.arg, ast.expr | None]]:
    """Every named parameter with its default expression (None when it has none)."""
    args = function.args
    for star, what in ((args.vararg, "*"), (args.kwarg, "**")):
        if star is not None:
            raise InvalidInput(
                FIELD,
                f"{function.name}() takes {what}{star.arg}, which a JSON schema cannot describe; "
                "name each parameter instead",
            )
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    return [
        *zip(positional, defaults, strict=True),
        *zip(args.kwonlyargs, args.kw_defaults, strict=True),
    ]


def _module_names(module: ast.Module) -> _Names:
    names = _Names()
    for node in module.body:
        if isinstance(node, ast.ClassDef) and any(
            _last_name(base) in _ENUM_BASES for base in node.bases
        ):
            names.enums[node.name] = _enum_values(node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                names.aliases[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            if _last_name(node.annotation) == "TypeAlias":
                names.aliases[node.target.id] = node.value
        elif _TYPE_ALIAS is not None and isinstance(node, _TYPE_ALIAS):  # `type X = ...`
            names.aliases[node.name.id] = node.value
    return names


def _enum_values(node: ast.ClassDef) -> list[Any]:
    values = []
    for statement in node.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant):
            values.append(statement.value.value)
    return values


# The schema of a nested annotation, one level deeper (bounded by ``_type_schema``'s depth).
_Inner = Callable[[ast.expr], dict[str, Any]]


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _type_schema(node: ast.expr, names: _Names, where: str, depth: int = 0) -> dict[str, Any]:
    """The JSON schema of one annotation; 422 naming ``where`` when JSON cannot express it."""
    if depth > 20:
        raise InvalidInput(FIELD, f"{where}: type annotation nests too deeply")

    def inner(child: ast.expr) -> dict[str, Any]:
        return _type_schema(child, names, where, depth + 1)

    if isinstance(node, ast.Constant):
        if node.value is None:
            return {"type": "null"}
        if isinstance(node.value, str):  # a string annotation: "int", "list[str]"
            try:
                parsed = ast.parse(node.value, mode="eval").body
            except SyntaxError as exc:
                raise InvalidInput(
                    FIELD, f"{where}: annotation '{node.value}' is not a type"
                ) from exc
            return inner(parsed)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right], inner)
    if isinstance(node, ast.Name | ast.Attribute):
        return _named_type(node, names, where, inner)
    if isinstance(node, ast.Subscript):
        return _generic_type(node, names, where, inner)
    raise _unsupported(node, where)


def _named_type(
    node: ast.Name | ast.Attribute, names: _Names, where: str, inner: _Inner
) -> dict[str, Any]:
    name = _last_name(node) or ""
    if name in _SCALARS:
        return dict(_SCALARS[name])
    if name in _ARRAYS:
        return {"type": "array"}
    if name in _OBJECTS:
        return {"type": "object"}
    if isinstance(node, ast.Name) and node.id in names.enums:
        return _enum_schema(names.enums[node.id], where)
    if isinstance(node, ast.Name) and node.id in names.aliases:
        alias = names.aliases.pop(node.id)  # popped: a self-referring alias cannot loop
        try:
            return inner(alias)
        finally:
            names.aliases[node.id] = alias
    raise _unsupported(node, where)


def _generic_type(node: ast.Subscript, names: _Names, where: str, inner: _Inner) -> dict[str, Any]:
    base = _last_name(node.value) or ""
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if base in _UNIONS:
        return _union(args, inner)
    if base == "Literal":
        return _literal(args, where)
    if base == "Annotated":
        described = inner(args[0])
        notes = [a.value for a in args[1:] if isinstance(a, ast.Constant)]
        text = next((note for note in notes if isinstance(note, str)), None)
        if text:
            described["description"] = text
        return described
    if base in _ARRAYS:
        items = [arg for arg in args if not (isinstance(arg, ast.Constant) and arg.value is ...)]
        if len(items) == 1:
            return {"type": "array", "items": inner(items[0])}
        return {"type": "array"}
    if base in _OBJECTS:
        schema: dict[str, Any] = {"type": "object"}
        if len(args) == 2:
            values = inner(args[1])
            if values:
                schema["additionalProperties"] = values
        return schema
    raise _unsupported(node, where)


def _union(members: list[ast.expr], inner: _Inner) -> dict[str, Any]:
    """``Optional[X]`` and ``X | None`` describe X (absence is the default's business)."""
    schemas = [inner(member) for member in _flatten_union(members)]
    present = [schema for schema in schemas if schema != {"type": "null"}]
    if not present:
        return {"type": "null"}
    if len(present) == 1:
        return present[0]
    if all(set(schema) == {"type"} for schema in present):
        return {"type": list(dict.fromkeys(schema["type"] for schema in present))}
    return {"anyOf": present}


def _flatten_union(members: list[ast.expr]) -> list[ast.expr]:
    """``A | B | C`` parses as nested pairs; walked without recursion, as chains can be long."""
    flat: list[ast.expr] = []
    pending = list(reversed(members))
    while pending:
        member = pending.pop()
        if isinstance(member, ast.BinOp) and isinstance(member.op, ast.BitOr):
            pending += [member.right, member.left]
        else:
            flat.append(member)
    return flat


def _literal(args: list[ast.expr], where: str) -> dict[str, Any]:
    values = []
    for arg in args:
        if not isinstance(arg, ast.Constant):
            raise _unsupported(arg, where)
        values.append(arg.value)
    return _enum_schema(values, where)


def _enum_schema(values: list[Any], where: str) -> dict[str, Any]:
    if not values:
        raise InvalidInput(FIELD, f"{where}: an enum or Literal needs at least one value")
    kinds = list(dict.fromkeys(_JSON_TYPES.get(type(value)) for value in values))
    if None in kinds:
        raise InvalidInput(FIELD, f"{where}: enum values must be strings, numbers or booleans")
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def _add_default(prop: dict[str, Any], default: ast.expr) -> None:
    """Record a literal default; a computed one (a call, a name) is left out of the schema."""
    try:
        value = ast.literal_eval(default)
        if isinstance(value, tuple | set | frozenset):
            value = list(value)
        json.dumps(value)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return
    prop["default"] = value


def _unsupported(node: ast.expr, where: str) -> InvalidInput:
    return InvalidInput(
        FIELD,
        f"{where}: type '{ast.unparse(node)}' has no JSON schema; use str, int, float, bool, "
        "list[...], dict[str, ...], Literal[...], an Enum, or Optional[...] of these",
    )


def builtin_schema(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    """A built-in tool's schema as the model is offered it (OpenAI's ``function`` object),
    written out by hand rather than read from source as ``function_schema`` does."""
    return {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }
