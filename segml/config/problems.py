"""A pydantic validation error as :class:`~segml.errors.Problem` objects, one per bad key, each
naming the file and the dotted key (an unknown key: the closest valid one too).

Example
-------
>>> from segml.config.section import Section
>>> class Demo(Section):
...     size: int = 1
>>> from pydantic import ValidationError
>>> try:
...     Demo(sise=2)
... except ValidationError as exc:
...     print(validation_problems(exc, "demo.yaml", Demo)[0])
error: file 'demo.yaml': unknown key 'sise' (did you mean 'size'?)
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from segml.errors import Problem


def _closest_key(model: type[BaseModel], loc: tuple[Any, ...], key: str) -> str | None:
    """The valid key nearest to ``key`` in the section ``loc`` points into."""
    section: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (isinstance(section, type) and issubclass(section, BaseModel)):
            continue
        field = section.model_fields.get(part)
        if field is None:
            return None
        section = unwrap_model(field.annotation)
        if section is None:
            return None
    if not (isinstance(section, type) and issubclass(section, BaseModel)):
        return None
    match = difflib.get_close_matches(key, list(section.model_fields), n=1, cutoff=0.5)
    return match[0] if match else None


def unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation (``X``, ``X | None``, ``list[X]``), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = unwrap_model(arg)
        if found is not None:
            return found
    return None


#: "Value error, <dotted.key>: <why>": what a check of the whole configuration raises.
_ROOT_KEY = re.compile(r"Value error, ([a-z_]+(?:\.[A-Za-z0-9_ ]+)+): (.*)", re.S)

#: Keys an earlier segml accepted, and what to do with them now.
REMOVED_KEYS = {
    "features.engine": "features are always built with pandas and NumPy; delete the key",
}


def validation_problems(error: ValidationError, source: str,
                        root: type[BaseModel]) -> list[Problem]:
    """Turn a pydantic error into one :class:`Problem` per bad key; an unknown key gets the
    closest valid key of its section in ``root`` as a hint."""
    problems = []
    for err in error.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        named = _ROOT_KEY.match(str(err.get("msg", ""))) if not loc else None
        if named:  # a check spanning sections names the key it refuses first in its message
            key, err = named.group(1), {**err, "msg": named.group(2)}
        if err["type"] == "extra_forbidden" and key in REMOVED_KEYS:
            message = f"key '{key}' was removed: {REMOVED_KEYS[key]}"
        elif err["type"] == "extra_forbidden":
            hint = _closest_key(root, loc, str(loc[-1]))
            message = f"unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else "")
        else:
            message = f"key '{key}': {err['msg']}"
        problems.append(Problem(message=message, file=source, key=key))
    return problems
