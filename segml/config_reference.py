"""The configuration reference (``docs/configuration.md``), generated from the pydantic models.

A test checks the checked-in page equals :func:`config_reference`, so the docs cannot go stale.
Regenerate with ``python -m segml.config_reference > docs/configuration.md``.

Example
-------
>>> "`time.churn_horizon_days`" in config_reference()
True
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

from segml.config import SegmlConfig, unwrap_model

HEADER = """# Configuration reference

Generated from `segml/config/` by `python -m segml.config_reference`; do not edit by hand.
Every key is optional: the defaults are the embedded demo configuration (`configs/demo.yaml`).
Unknown keys are errors that name the key, the file and the closest valid key.
"""


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return re.sub(r"segml\.config\.(\w+\.)*", "", text.replace("typing.", ""))


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    return "`" + json.dumps(value, default=str) + "`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = unwrap_model(field.annotation)
        description = (field.description or "").replace("|", "\\|")
        if nested is not None and not str(field.annotation).startswith("list"):
            rows.append(f"| `{key}` | section | {_default(field)} | {description} |")
            rows.extend(_rows(nested, key + "."))
        else:
            type_name = _type_name(field.annotation).replace("|", "\\|")
            rows.append(f"| `{key}` | {type_name} | {_default(field)} | {description} |")
    return rows


def config_reference() -> str:
    """The Markdown reference of every configuration key."""
    lines = [HEADER, "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    lines.extend(_rows(SegmlConfig, ""))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(config_reference(), end="")
