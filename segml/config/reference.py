"""The configuration reference (``docs/configuration.md``), generated from the pydantic models.

A test checks the checked-in page equals :func:`config_reference`, so the docs cannot go stale.
Regenerate with ``python -m segml.config.reference > docs/configuration.md``.

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

Generated from `segml/config/` by `python -m segml.config.reference`; do not edit by hand.
Every key is optional. Unknown keys are errors that name the key, the file and the closest valid
key.

## Your columns

The defaults declare none of your columns beyond the data contract's role names (`customer_id`,
`signup_date`; `timestamp`, `amount`, `order_id`, `quantity`, `category`, `channel`;
`event_type`): no attribute, PII or label column. A column of the customers table becomes a
feature only when `data.customers.attributes` declares it; every other column is not read, and one
info note at training names them, those that look like personal data (names such as `email`,
`phone`, `name`, or values that are e-mail addresses or phone numbers) marked as PII. A declared
attribute whose values are e-mail addresses or phone numbers is not used either (a warning says
so): PII never becomes a feature. Label columns (`data.customers.labels`) are read by training,
retraining and `segml validate` only: scoring new customers reads no label column, with or without
the training config (`docs/cutoffs.md`, attributes mode).

Without `--config`, `--data DIR` reads `DIR/segml.yaml` when there is one: `segml generate` (and
`SyntheticData.write`) writes it beside the synthetic tables, declaring their attributes and PII.
`configs/demo.yaml`, what `segml demo` runs with, is the defaults plus those declarations and two
targets of the demo's own (docs/targets.md; `segml.data.synthetic.datasets.demo_config()` in
Python).

## Keys
"""


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return re.sub(r"segml\.config\.(\w+\.)*", "", text.replace("typing.", ""))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
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
            # a dict of sections (targets: name -> entry) documents one entry under <name>
            named = str(field.annotation).startswith("dict")
            rows.extend(_rows(nested, key + (".<name>." if named else ".")))
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
