"""The defaults declare none of the user's columns (issue 27; ``docs/configuration.md``, "Your
columns"): ``--data DIR`` on a table whose columns are not the demo's warns about no declared
column; an undeclared column is never a feature, and one that looks like personal data is named
as such in one info note; a declared attribute holding e-mail addresses or phone numbers is not
used. Generated data carries its own ``segml.yaml``, so ``segml generate`` + ``--data`` work as
the demo does."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from segml.config import load_config
from segml.data.contract import validate_tables
from segml.data.synthetic.datasets import SYNTHETIC_COLUMNS
from segml.tracking.model import load_scorer

from .helpers import NAME, assert_handled, invoke

#: Columns of a user's customers table that look like personal data (by name or by values).
PERSONAL = ["full_name", "contactEmail", "mobile", "ref"]


def user_customers(frames: dict[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """The synthetic customers as another company exports them: none of the demo's attribute or
    PII columns, a plan and a score of their own, and personal data under other names."""
    source = frames["customers"]
    rng = np.random.default_rng(seed)
    n = len(source)
    return pd.DataFrame({
        "customer_id": source["customer_id"],
        "signup_date": source["signup_date"],
        "plan": rng.choice(["basic", "plus", "pro"], n),
        "satisfaction": rng.integers(1, 6, n).astype(float),
        "full_name": source["name"],
        "contactEmail": source["email"],
        "mobile": source["phone"],
        "ref": [f"+44 20 7946 {i:04d}" for i in range(n)],  # phone numbers under a bland name
    })


@pytest.fixture
def user_folder(frames, tmp_path):
    """The synthetic transactions and events beside the user's customers; no segml.yaml."""
    folder = tmp_path / "user"
    folder.mkdir()
    user_customers(frames).to_csv(folder / "customers.csv", index=False)
    for table in ("transactions", "events"):
        frames[table].to_parquet(folder / f"{table}.parquet", index=False)
    return folder


def test_f0_validate_train_and_score_on_other_columns_warn_about_no_declared_column(
        user_folder, tmp_path):
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
           "SEGML_LOCK_DIR": str(tmp_path / "locks")}
    out = tmp_path / "scores.parquet"
    for args in (["validate", "--data", user_folder],
                 ["train", "--data", user_folder, "--quiet"],
                 ["score", "--model", f"models:/{NAME}@champion", "--data", user_folder,
                  "--out", out]):
        output = assert_handled(invoke(*args, env=env), 0, None, "does not exist", "declared",
                                "@example.org", "+44 20")
        # no warning about the customers table (the small data's label counts may warn)
        assert "table 'customers'" not in output, output
    scorer = load_scorer(f"models:/{NAME}@champion", tracking=env["MLFLOW_TRACKING_URI"])
    demo = {c for cols in SYNTHETIC_COLUMNS["attributes"].values() for c in cols}
    features = set(scorer.feature_names)
    assert not features & (set(PERSONAL) | {"plan", "satisfaction"} | demo), features
    assert "recency_days" in features and len(pd.read_parquet(out)) == len(
        pd.read_csv(user_folder / "customers.csv"))


def test_f9_undeclared_personal_columns_are_named_once_and_never_read(frames, caplog):
    customers = user_customers(frames)
    config = load_config(None)
    with caplog.at_level(logging.INFO, logger="segml.data.contract"):
        tables, problems = validate_tables(config, customers, frames["transactions"],
                                           frames["events"])
    assert problems == [] and tables is not None
    assert list(tables.customers.columns) == ["customer_id", "signup_date"]
    notes = [r.getMessage() for r in caplog.records if r.name == "segml.data.contract"]
    assert len(notes) == 1 and notes[0].startswith("customers: 6 column(s)"), notes
    assert "plan, satisfaction (declare" in notes[0]
    assert f"{', '.join(PERSONAL)}, which look like PII" in notes[0], notes[0]
    assert "@" not in notes[0] and "+44" not in notes[0]  # names, never values


def test_f9_a_declared_attribute_holding_contact_details_is_not_a_feature(frames):
    customers = user_customers(frames)
    config = load_config(None, data={"customers": {"attributes": {
        "demographic": ["plan", "contactEmail", "ref"]}}})
    tables, problems = validate_tables(config, customers, frames["transactions"],
                                       frames["events"])
    assert tables is not None and tables.attribute_roles == {"demographic": ["plan"]}
    assert [(p.severity, p.column) for p in problems] == [("warning", "contactEmail"),
                                                         ("warning", "ref")]
    assert "holds e-mail addresses: not used" in problems[0].message
    assert "holds phone numbers: not used" in problems[1].message


def test_f0_generated_data_declares_its_own_columns(trained, source):
    """``segml generate``'s folder carries a segml.yaml: ``train --data`` uses the synthetic
    attributes, never the PII, and warns about no missing column."""
    assert (source / "segml.yaml").is_file()
    assert "does not exist" not in trained["output"]
    scorer = load_scorer(f"models:/{NAME}@champion", tracking=trained["uri"])
    assert {"region", "industry", "nps_score"} <= set(scorer.feature_names)
    assert not set(SYNTHETIC_COLUMNS["pii"]) & set(scorer.feature_names)


def test_f0_segml_generate_writes_the_folder_config(tmp_path):
    result = invoke("generate", "--customers", "60", "--out", tmp_path / "g", "--format", "csv")
    assert_handled(result, 0)
    config = load_config(tmp_path / "g" / "segml.yaml")
    assert config.data.customers.attributes == SYNTHETIC_COLUMNS["attributes"]
    assert config.data.customers.pii == SYNTHETIC_COLUMNS["pii"]
    result = invoke("validate", "--data", tmp_path / "g")
    output = " ".join(assert_handled(result, 0).split())
    assert "60 customers" in output and "0 warning(s)" in output, output
