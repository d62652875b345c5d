"""What every configuration section shares: the base class and the target-name type.

:class:`Section` forbids unknown keys (a misspelt key is an error naming it) and validates
assignments, so ``cfg.seed = "x"`` fails like a config file would.

Example
-------
>>> from segml.config.section import Section
>>> class Demo(Section):
...     size: int = 1
>>> Demo(size=2).size
2
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from segml.targets import TARGET_NAMES

TargetName = Literal[TARGET_NAMES]  # every target of segml.targets


class Section(BaseModel):
    """A configuration section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        """``levels: true`` is not 1: YAML's true/false are refused where a number is expected
        (pydantic's lax mode would read them as 1 and 0)."""
        field = cls.model_fields.get(info.field_name or "")
        if field is None or not _holds_bool(value):
            return value
        kinds = _leaf_types(field.annotation)
        if bool not in kinds and kinds & {int, float}:
            raise ValueError("must be a number, not true/false")
        return value


def _holds_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, bool) for v in value)


def _leaf_types(annotation: Any) -> set[Any]:
    """The plain types an annotation accepts (``int | None`` and ``list[int]`` give ``int``)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _leaf_types(args[0])
    if args and (origin in (typing.Union, types.UnionType, list, tuple, set)):
        return set().union(*(_leaf_types(a) for a in args))
    return {annotation}
