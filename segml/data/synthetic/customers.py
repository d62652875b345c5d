"""The customers table of the synthetic generator: attributes by leaf, sign-up dates, PII.

Each leaf has its own distribution of every attribute (drawn with the design), so attributes tell
a little about the segments; :mod:`segml.data.synthetic.generator` builds the rest of the world.

Example
-------
>>> sorted(ATTRIBUTES)[:3]
['acquisition_channel', 'company_size', 'country']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segml.config.loading import FOLDER_CONFIG
from segml.data.columns import draw_codes, padded, strings, with_missing
from segml.data.io import write_text_atomic

#: The column roles of the synthetic customers table (``data.customers`` keys): its attributes by
#: role and its PII. ``SyntheticData.write`` declares them in the folder's ``segml.yaml``, which
#: ``--data DIR`` reads; ``configs/demo.yaml`` (the demo's configuration) holds the same.
SYNTHETIC_COLUMNS: dict[str, object] = {
    "attributes": {
        "demographic": ["age", "gender"],
        "geographic": ["country", "region", "city"],
        "firmographic": ["industry", "company_size"],
        "technographic": ["device", "acquisition_channel"],
        "attitudinal": ["nps_score"],
    },
    "pii": ["name", "email", "phone"],
}

#: The demo's own outcomes (config ``targets:``, docs/targets.md): an electronics purchase within
#: 30 days and a support ticket within 60 days. ``configs/demo.yaml`` (``segml demo``) declares
#: them; :func:`~segml.data.synthetic.datasets.synthetic_config` and the folder's ``segml.yaml``
#: do not (the frozen reference is fitted with the built-in targets only, and a model trained
#: with them retrains on the folder with the same inputs).
SYNTHETIC_TARGETS: dict[str, object] = {
    "buys_electronics": {
        "horizon_days": 30,
        "label": {"purchases": {"category": ["electronics"]}},
        "description": "buys electronics within 30 days",
        "audience": "likely to buy electronics",
    },
    "contacts_support": {
        "horizon_days": 60,
        "label": {"events": {"type": ["support_ticket"]}},
        "description": "opens a support ticket within 60 days",
        "audience": "likely to contact support",
    },
}

ATTRIBUTES: dict[str, tuple[tuple[str, ...], float]] = {  # values, share missing
    "gender": (("female", "male", "non-binary"), 0.02),
    "country": (("US", "UK", "DE", "FR", "ES", "NL"), 0.0),
    "region": (("North", "South", "East", "West"), 0.0),
    "industry": (
        ("retail", "technology", "finance", "healthcare", "manufacturing", "education", "hospitality"),
        0.05,
    ),
    "company_size": (("1-10", "11-50", "51-200", "201-1000", "1000+"), 0.05),
    "acquisition_channel": (("organic", "paid_search", "social", "referral", "email", "affiliate"), 0.0),
}
CITIES = {
    "US": ("New York", "Chicago", "Austin"),
    "UK": ("London", "Leeds", "Bristol"),
    "DE": ("Berlin", "Munich", "Hamburg"),
    "FR": ("Paris", "Lyon", "Lille"),
    "ES": ("Madrid", "Seville", "Valencia"),
    "NL": ("Amsterdam", "Utrecht", "Rotterdam"),
}
DEVICES = ("mobile", "desktop", "tablet")
DEVICE_BY_CHANNEL = np.array([[0.35, 0.55, 0.10], [0.78, 0.12, 0.10], [0.50, 0.35, 0.15]])
FIRST_NAMES = ("Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jon",
               "Kira", "Liam", "Maya", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tara", "Yusuf")
LAST_NAMES = ("Smith", "Garcia", "Muller", "Martin", "Rossi", "Jansen", "Khan", "Nowak", "Silva",
              "Brown", "Dubois", "Lopez", "Novak", "Berg", "Costa", "Weber", "Moreau", "Hill")


def attribute_probs(rng: np.random.Generator, design: pd.DataFrame,
                    chan_mix: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-leaf distributions of each attribute and of the device (part of the design)."""
    n_leaves = len(design)
    probs = {}
    for column, (values, _) in ATTRIBUTES.items():
        prior = np.full(len(values), 1.0 / len(values))
        p = rng.dirichlet(12.0 * prior * len(values), n_leaves)
        if column == "company_size":  # higher value tiers skew to larger companies
            tilt = np.exp(np.outer(design["macro"].to_numpy() / 2.0, np.linspace(-1, 1, len(values))))
            p = p * tilt / (p * tilt).sum(axis=1, keepdims=True)
        probs[column] = p
    device = 0.7 * (chan_mix @ DEVICE_BY_CHANNEL) + 0.3 * rng.dirichlet([4, 3, 1], n_leaves)
    return probs, device


def customers_table(rng, ids, leaf, design, attribute_probs, device_probs, start, horizon):
    """The customers frame of leaf-``leaf`` customers, their sign-up day and NPS (NaN if missing).

    Sign-up days follow Beta(1, 2) over the window less its last 30 days (more early customers);
    age ~ Normal(leaf ``age_mean``, 11), NPS ~ Binomial(10, leaf ``nps_p``); attributes and the
    device are drawn from their leaf's distributions.
    """
    n = len(leaf)
    frame = pd.DataFrame({"customer_id": ids.to_pandas()})
    signup = np.floor(rng.beta(1.0, 2.0, n) * (horizon - 30.0))
    frame["signup_date"] = (start + pd.to_timedelta(signup, unit="D")).astype("datetime64[ns]")
    age = np.clip(np.round(rng.normal(design["age_mean"].to_numpy()[leaf], 11.0)), 18, 85)
    frame["age"] = np.where(rng.random(n) < 0.03, np.nan, age)
    for column, (values, missing) in ATTRIBUTES.items():
        codes = with_missing(rng, draw_codes(rng, attribute_probs[column], leaf), missing)
        frame[column] = strings(pa.array(values), codes)
        if column == "country":
            city_codes = codes.astype(np.int16) * 3 + rng.integers(0, 3, n)
            city_codes = with_missing(rng, city_codes, 0.04)
            cities = [c for country in values for c in CITIES[country]]
            frame["city"] = strings(pa.array(cities), city_codes)
    frame["device"] = strings(pa.array(DEVICES), with_missing(rng, draw_codes(rng, device_probs, leaf), 0.01))
    nps = rng.binomial(10, design["nps_p"].to_numpy()[leaf]).astype(np.float64)
    frame["nps_score"] = np.where(rng.random(n) < 0.08, np.nan, nps)
    first, last = pa.array(FIRST_NAMES), pa.array(LAST_NAMES)
    i_first, i_last = rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n)
    f_names, l_names = pc.take(first, pa.array(i_first)), pc.take(last, pa.array(i_last))
    frame["name"] = pc.binary_join_element_wise(f_names, l_names, " ").to_pandas()
    local = pc.binary_join_element_wise(pc.utf8_lower(f_names), pc.utf8_lower(l_names), ids, ".")
    frame["email"] = pc.binary_join_element_wise(local, "@example.com", "").to_pandas()
    frame["phone"] = padded("+1-555-", rng.integers(0, 10_000_000, n), 7).to_pandas()
    return frame, signup, nps


def folder_config_text() -> str:
    """The ``segml.yaml`` written beside synthetic tables: their column roles, nothing else (a
    model trained with :func:`~segml.data.synthetic.datasets.synthetic_config` retrains on the
    folder with the same inputs; the demo's targets are in ``configs/demo.yaml``)."""
    import yaml

    head = ("# Column roles of the synthetic tables `segml generate` wrote here; `--data DIR` "
            "reads this\n# file when no --config is given (the defaults declare no columns).\n")
    return head + yaml.safe_dump({"data": {"customers": SYNTHETIC_COLUMNS}}, sort_keys=False)


def write_folder_config(folder: Path) -> Path:
    """Write :func:`folder_config_text` as ``folder/segml.yaml``: ``--data DIR`` without
    ``--config`` reads it, as the defaults declare no column of anyone's data."""
    return write_text_atomic(folder_config_text(), Path(folder) / FOLDER_CONFIG)
