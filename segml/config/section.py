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

from typing import Literal

from pydantic import BaseModel, ConfigDict

from segml.targets import TARGET_NAMES

TargetName = Literal[TARGET_NAMES]  # every target of segml.targets


class Section(BaseModel):
    """A configuration section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
