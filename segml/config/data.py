"""The ``data`` section: where the tables are and which columns play which role (docs/configuration.md).

Example
-------
>>> from segml.config.data import CustomersTable
>>> CustomersTable(attributes={"geographic": ["country"]}, pii=[]).attribute_columns()
['country']
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from segml.config import checks as config_checks
from segml.config.section import Section
from segml.targets import CLASSIFIERS

ATTRIBUTE_ROLES = (
    "demographic",
    "geographic",
    "firmographic",
    "technographic",
    "psychographic",
    "attitudinal",
)
#: Targets an attributes-mode table can carry an explicit label column for (the classifiers).
LABEL_TARGETS = CLASSIFIERS
EpochUnit = Literal["s", "ms", "us", "ns"]
_FORMAT_HELP = ("strftime format of the {what} (e.g. '%d.%m.%Y %H:%M'); required when values "
                "read both day-first and month-first. None: ISO dates and unambiguous text.")
_UNIT_HELP = ("Unit of integer epoch {what} (s, ms, us, ns); integer values are refused "
              "without it.")


class CustomersTable(Section):
    """Where the customers table is and which of its columns play which role."""

    path: str | None = Field(None, description="CSV or Parquet file; None with --data DIR.")
    customer_id: str = Field("customer_id", description="Column holding the customer id.")
    signup_date: str | None = Field("signup_date", description="Signup date column, if any.")
    signup_date_format: str | None = Field(None, description=_FORMAT_HELP.format(what="signup dates"))
    signup_date_unit: EpochUnit | None = Field(None, description=_UNIT_HELP.format(what="signup dates"))
    # The defaults name none of the user's columns: a column is an attribute only when declared
    # here (docs/configuration.md, "Your columns"), so nothing else is ever a feature.
    attributes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Attribute columns by role (demographic, geographic, firmographic, "
        "technographic, psychographic, attitudinal); only these customers columns become "
        "features. None by default.",
    )
    pii: list[str] = Field(
        default_factory=list,
        description="Columns never used as features, in profiles, logs or artifacts (undeclared "
        "columns are never used either).",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Explicit label columns by target (attributes mode), e.g. {churn: Churn}.",
    )
    positive_label: str | None = Field(
        None,
        description="Value counted as positive in explicit label columns when they are not "
        "boolean or 0/1 (e.g. 'Yes').",
    )
    optional_columns: bool = Field(
        True, description="Missing optional attribute columns are warnings, not errors."
    )

    _signup_format = field_validator("signup_date_format")(config_checks.check_timestamp_format)

    @model_validator(mode="after")
    def _known_roles(self) -> CustomersTable:
        unknown = sorted(set(self.attributes) - set(ATTRIBUTE_ROLES))
        if unknown:
            raise ValueError(
                f"unknown attribute role(s) {unknown}; valid roles: {list(ATTRIBUTE_ROLES)}"
            )
        bad_targets = sorted(set(self.labels) - set(LABEL_TARGETS))
        if bad_targets:
            raise ValueError(
                f"unknown label target(s) {bad_targets}; valid: {list(LABEL_TARGETS)}; declare "
                f"an outcome of your own under targets instead, e.g. targets: {{{bad_targets[0]}: "
                f"{{label: {{column: {self.labels[bad_targets[0]]}, positive: <value>}}}}}} "
                "(docs/targets.md)")
        return self

    def attribute_columns(self) -> list[str]:
        """All attribute columns in role order, PII removed."""
        pii = set(self.pii)
        return [c for role in ATTRIBUTE_ROLES for c in self.attributes.get(role, []) if c not in pii]


class TransactionsTable(Section):
    path: str | None = None
    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    timestamp_format: str | None = Field(None, description=_FORMAT_HELP.format(what="timestamps"))
    timestamp_unit: EpochUnit | None = Field(None, description=_UNIT_HELP.format(what="timestamps"))
    amount: str = "amount"
    order_id: str | None = "order_id"
    quantity: str | None = "quantity"
    category: str | None = "category"
    product_id: str | None = None
    channel: str | None = "channel"

    _format = field_validator("timestamp_format")(config_checks.check_timestamp_format)


class EventsTable(Section):
    path: str | None = None
    customer_id: str = "customer_id"
    timestamp: str = "timestamp"
    timestamp_format: str | None = Field(None, description=_FORMAT_HELP.format(what="timestamps"))
    timestamp_unit: EpochUnit | None = Field(None, description=_UNIT_HELP.format(what="timestamps"))
    event_type: str = "event_type"

    _format = field_validator("timestamp_format")(config_checks.check_timestamp_format)


class DataConfig(Section):
    """The tables and their column roles (docs/configuration.md)."""

    dir: str | None = Field(
        None,
        description="Folder in the layout `segml generate` writes; paths below override it.",
    )
    mode: Literal["auto", "behavioural", "attributes"] = Field(
        "auto",
        description="auto: behavioural when a transactions table exists, else attributes.",
    )
    customers: CustomersTable = Field(default_factory=CustomersTable)
    transactions: TransactionsTable | None = Field(default_factory=TransactionsTable)
    events: EventsTable | None = Field(default_factory=EventsTable)
    now: date | None = Field(
        None,
        description="Reference 'today' for the future-timestamp check; default: the real date.",
    )

