"""Checks a config dataclass's values against their annotated types, so that a YAML or flag value
of the wrong kind (`batch_size: five`, `batch_size: 2.5`, a NaN learning rate) fails when the
config loads, naming the setting, not deep inside a run. Imports nothing heavy."""
import dataclasses
import math
import typing
from typing import Any, Optional

_WANTED = {bool: "true or false", int: "an integer", float: "a finite number", str: "text"}


def _fits(expected: Any, value: Any) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    if expected is str:
        return isinstance(value, str)
    if typing.get_origin(expected) is list:
        [item] = typing.get_args(expected)
        return isinstance(value, list) and all(_fits(item, v) for v in value)
    return True  # a nested config checks itself


def _problem(expected: Any, value: Any) -> Optional[str]:
    if typing.get_origin(expected) is typing.Union:
        if value is None:
            return None
        expected = next(a for a in typing.get_args(expected) if a is not type(None))
        wanted = f"{_WANTED.get(expected, 'a list of text')} or null"
    else:
        wanted = _WANTED.get(expected, "a list of text")
    return None if _fits(expected, value) else f"expected {wanted}, got {value!r}"


def check(instance: Any, prefix: str = "") -> None:
    """ValueError naming the first field (`prefix` + name) whose value is not of its type."""
    hints = typing.get_type_hints(type(instance))
    for field in dataclasses.fields(instance):
        problem = _problem(hints[field.name], getattr(instance, field.name))
        if problem:
            raise ValueError(f"{prefix}{field.name}: {problem}")
