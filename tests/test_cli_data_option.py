"""``--data DIR`` names where the tables are, even with a config that names files of its own.

A training config reused to score new customers (``segml score --config telco.yaml --data
new/``) must read the new folder, not the training file the config points at.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segml.cli.options import resolve_config


def _config(tmp_path: Path, customers_path: str) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text("data:\n  mode: attributes\n  customers:\n"
                    f"    path: {customers_path}\n    customer_id: id\n", encoding="utf-8")
    return path


def test_data_folder_wins_over_the_configured_file(tmp_path):
    train = tmp_path / "train"
    new = tmp_path / "new"
    for folder, ids in ((train, ["a", "b"]), (new, ["c"])):
        folder.mkdir()
        pd.DataFrame({"id": ids, "plan": ["x"] * len(ids)}).to_csv(folder / "customers.csv",
                                                                  index=False)
    config = _config(tmp_path, str(train / "customers.csv"))
    assert Path(resolve_config(config, None).data.customers.path) == train / "customers.csv"
    resolved = resolve_config(config, new)
    assert Path(resolved.data.customers.path) == (new / "customers.csv").resolve()
    assert resolved.data.dir == str(new.resolve())


def test_a_configured_name_missing_in_the_folder_falls_back_to_its_standard_names(tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    pd.DataFrame({"id": ["c"], "plan": ["x"]}).to_parquet(new / "customers.parquet")
    config = _config(tmp_path, str(tmp_path / "export" / "WA_Telco.csv"))
    resolved = resolve_config(config, new)
    assert resolved.data.customers.path is None  # found as customers.parquet in --data
    assert resolved.data.dir == str(new.resolve())
