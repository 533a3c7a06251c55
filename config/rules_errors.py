"""Rules errors in human words: `<file>: <field.path>: <problem>; valid: <what would be valid>`,
including the translation of pydantic's validation errors."""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


class RulesError(Exception):
    """The rules file is invalid; `errors` holds one human message per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def format_problem(source: str, path: str, problem: str, valid: str | None = None) -> str:
    if valid is None or "; valid:" in problem:
        return f"{source}: {path}: {problem}"
    return f"{source}: {path}: {problem}; valid: {valid}"


def _loc_path(loc: tuple[Any, ...]) -> str:
    # pydantic inserts validator names (e.g. "function-before[...]") into locations.
    parts = [str(p) for p in loc if not (isinstance(p, str) and "[" in p and "]" in p)]
    return ".".join(parts) or "(top level)"


def _unwrap(annotation: Any) -> Any:
    while get_origin(annotation) in (Annotated, Union) or str(get_origin(annotation)) in (
        "types.UnionType",
        "<class 'types.UnionType'>",
    ):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0]
    return annotation


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that owns the field at `loc` (used to list the valid field names)."""
    current: Any = root
    parts = list(loc)
    while parts:
        if isinstance(current, type) and issubclass(current, BaseModel):
            name = parts.pop(0)
            field = current.model_fields.get(str(name))
            if field is None:
                return current if not parts else None
            current = _unwrap(field.annotation)
        elif get_origin(current) is dict:
            parts.pop(0)
            current = _unwrap(get_args(current)[1])
        elif get_origin(current) is list:
            parts.pop(0)
            current = _unwrap(get_args(current)[0])
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def pydantic_messages(
    err: ValidationError, source: str, root: type[BaseModel], prefix: str = ""
) -> list[str]:
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        path = prefix + _loc_path(loc)
        msg = str(e["msg"]).removeprefix("Value error, ")
        valid: str | None = None
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc[:-1], root) if len(loc) > 1 else root
            msg = f"unknown field {loc[-1]!r}"
            if owner is not None:
                valid = "one of " + ", ".join(owner.model_fields)
        elif e["type"] == "missing":
            msg = "required field is missing"
            valid = "add it"
        elif e["type"] == "literal_error":
            msg = f"{e.get('input')!r} is not allowed"
            valid = "one of " + str(e.get("ctx", {}).get("expected", ""))
        else:
            valid = "a value of the right type and range"
        out.append(format_problem(source, path, msg, valid))
    return out
