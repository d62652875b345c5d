"""``segml score`` and ``segml audiences`` work at the cutoff ``train`` does: ``--cutoff``, else
the config's ``time.cutoff``, else the end of the data (docs/cutoffs.md; one rule,
``segml.features.plan.resolve_cutoff``).

The model is a stand-in that echoes a few feature columns and the cutoff it was asked for, so
the test reads exactly which rows the features were built from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from segml.config import SegmlConfig
from segml.data.contract import load_tables
from segml.features import FeatureSpec

CONFIGURED = "2024-06-30"
GIVEN = "2024-03-31"


def _raw(seed: int = 5, n: int = 40) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = [f"c{i:03d}" for i in range(n)]
    owner = rng.integers(0, n, 600)
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.uniform(0, 730, 600), unit="D")
    transactions = pd.DataFrame({"customer_id": np.array(ids)[owner], "timestamp": when.floor("s"),
                                 "amount": np.round(rng.gamma(2.0, 20.0, 600), 2)})
    customers = pd.DataFrame({"customer_id": ids,
                              "signup_date": pd.Timestamp("2022-12-01")})
    return {"customers": customers, "transactions": transactions}


def _config(cutoff: str | None = CONFIGURED) -> SegmlConfig:
    cfg = {"data": {"now": "2100-01-01"}, "features": {"btyd": False}}
    if cutoff is not None:
        cfg["time"] = {"cutoff": cutoff}
    return SegmlConfig.model_validate(cfg)


class _Echo:
    """A scorer stand-in: each customer's purchase count and spend, and the cutoff asked for."""

    def __init__(self, spec: FeatureSpec):
        self.feature_spec = spec

    def score(self, features: pd.DataFrame, reasons: bool = False, as_of=None) -> pd.DataFrame:
        rows = features.reset_index()
        return pd.DataFrame({"customer_id": rows["customer_id"].to_numpy(),
                             "frequency": rows["frequency"].to_numpy(dtype=float),
                             "monetary_sum": rows["monetary_sum"].to_numpy(dtype=float),
                             "as_of": str(as_of)})


def _expected(raw: dict[str, pd.DataFrame], day: str) -> pd.Series:
    """Purchases per customer counted by hand from the rows up to the end of ``day``."""
    tx = raw["transactions"]
    upto = tx[tx["timestamp"] < pd.Timestamp(day) + pd.Timedelta(days=1)]
    return upto.groupby("customer_id").size().astype(float)


@pytest.fixture(scope="module")
def setting():
    raw = _raw()
    cfg = _config(None)
    tables = load_tables(cfg, **raw)
    spec = FeatureSpec.fit(tables, "2023-12-31", cfg)
    return raw, spec


def _score(raw, spec, config, cutoff=None) -> pd.DataFrame:
    from segml import score

    tables = load_tables(config, **raw)
    return score("models:/stand-in@champion", config=config, tables=tables, cutoff=cutoff,
                 scorer=_Echo(spec)).set_index("customer_id")


def _check_scored_at(scores: pd.DataFrame, raw, day: str) -> None:
    assert set(scores["as_of"]) == {f"{day} 23:59:59.999999999"}
    expected = _expected(raw, day)
    known = scores["frequency"].notna()
    # the customers known then, and each one's purchases up to the cutoff, none after it
    assert set(scores.index[known]) == set(expected.index)
    assert scores.loc[expected.index, "frequency"].to_numpy() == pytest.approx(expected.to_numpy())


def test_score_honours_the_configured_cutoff(setting):
    raw, spec = setting
    scores = _score(raw, spec, _config(CONFIGURED))
    _check_scored_at(scores, raw, CONFIGURED)
    # it matters: at the data end the same customers have more purchases
    at_end = _score(raw, spec, _config(None))
    assert (at_end["frequency"].fillna(0) > scores["frequency"].fillna(0)).sum() > 10


def test_a_given_cutoff_overrides_the_configured_one(setting):
    raw, spec = setting
    _check_scored_at(_score(raw, spec, _config(CONFIGURED), cutoff=GIVEN), raw, GIVEN)


def test_a_configured_cutoff_after_the_data_is_refused_naming_time_cutoff(setting):
    from segml.errors import DataError

    raw, spec = setting
    with pytest.raises(DataError) as err:
        _score(raw, spec, _config("2030-01-01"))
    (problem,) = err.value.problems
    assert problem.key == "time.cutoff" and "is after the data ends" in problem.message


@pytest.mark.parametrize(("extra", "day"), [([], CONFIGURED), (["--cutoff", GIVEN], GIVEN)])
def test_cli_score_uses_the_config_cutoff_unless_cutoff_is_given(setting, tmp_path, monkeypatch,
                                                                 extra, day):
    from segml.cli import app
    from segml.tracking import model

    raw, spec = setting
    data = tmp_path / "data"
    data.mkdir()
    for name, frame in raw.items():
        frame.to_parquet(data / f"{name}.parquet")
    config = tmp_path / "segml.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"now": "2100-01-01"}, "features": {"btyd": False},
        "time": {"cutoff": CONFIGURED},
        "tracking": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}}))
    monkeypatch.setattr(model, "load_scorer", lambda uri, tracking=None: _Echo(spec))
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(app, ["score", "--model", "models:/stand-in@champion", "--data",
                                      str(data), "--config", str(config), "--out", str(out),
                                      *extra])
    assert result.exit_code == 0, result.output
    _check_scored_at(pd.read_parquet(out).set_index("customer_id"), raw, day)
