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

import copy
import types
import typing
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

#: A target name: a built-in one (segml.targets) or one the config's ``targets:`` declares
#: (checked by the whole configuration, which knows both).
TargetName = str


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


# ------------------------------------------------------------------ sections and estimators
# An estimator built from a section (config.models -> Predictor, config.segments ->
# SegmentHierarchy) takes the section's fields of the same names as parameters: the section is
# the one source of their defaults and of the rules their values obey.


def field_defaults(section: type[Section]) -> dict[str, Any]:
    """Every field's default (default factories called), by name: what an estimator built from
    ``section`` declares as its parameters' defaults.

    Example
    -------
    >>> class Demo(Section):
    ...     size: int = 1
    ...     names: list[str] = ["a"]
    >>> field_defaults(Demo)
    {'size': 1, 'names': ['a']}
    """
    return {name: field.get_default(call_default_factory=True)
            for name, field in section.model_fields.items()}


def shared_values(section: Section, parameters: Collection[str]) -> dict[str, Any]:
    """The values of ``section``'s fields that are among an estimator's ``parameters``, copied
    (a fitted estimator never shares a list or dict with the configuration).

    Example
    -------
    >>> class Demo(Section):
    ...     size: int = 1
    ...     colour: str = "red"
    >>> shared_values(Demo(size=3), ["size", "seed"])
    {'size': 3}
    """
    return {name: copy.deepcopy(getattr(section, name)) for name in type(section).model_fields
            if name in parameters}


def check_parameters(section: type[Section], params: Mapping[str, Any], estimator: str) -> None:
    """Check an estimator's parameters named like ``section``'s fields by the section's own rules
    (types, ranges, choices): the rules are declared once, on the section. None is left to the
    estimator (it gives None a meaning of its own); tuples are read as lists.

    Raises
    ------
    ValueError
        Naming the estimator, the parameter and the rule, e.g.
        ``Predictor parameter 'calibration': Input should be 'auto', ...``.

    Example
    -------
    >>> class Demo(Section):
    ...     size: int = 1
    >>> check_parameters(Demo, {"size": 0.5, "seed": 3}, "Demo")
    Traceback (most recent call last):
    ...
    ValueError: Demo parameter 'size': Input should be a valid integer, got a number with a fractional part (0.5)
    """
    values = {name: list(value) if isinstance(value, tuple) else value
              for name, value in params.items()
              if name in section.model_fields and value is not None}
    try:
        section.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        if not first["loc"]:  # a rule across fields (a model validator)
            raise ValueError(f"{estimator} parameters: {first['msg']}") from None
        name = str(first["loc"][0])
        raise ValueError(f"{estimator} parameter '{name}': {first['msg']} "
                         f"({params[name]!r})") from None


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
