"""Same data, config and seed: the same segments and ids on every machine.

Machines differ in the last bits of ``log1p`` (SIMD implementations), of matrix products (BLAS
kernels and their thread counts) and of sums. Discovery must not notice: the partition and the
ids stay identical when the features are perturbed by 1e-12 relative (far more than a last-bit
difference) and when BLAS/OpenMP run on 1 or 2 threads (``docs/segments.md``, "Same segments on
every machine"). Before the fixed-precision space, canonical ids and the exact projection, a
1e-12 perturbation of 5,000 ``make_customers`` customers moved customers between leaves.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from segml.data.synthetic.datasets import make_customers, synthetic_config
from segml.features import FeatureSpec, build_features
from segml.segments import RuleSegmenter, SegmentHierarchy
from segml.segments.leaves import canonical_labels
from segml.segments.preprocess import SegmentPreprocessor, principal_axes
from segml.workflow.stages import load

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def features(tmp_path_factory) -> pd.DataFrame:
    """The current feature matrix of 5,000 generated customers (behaviour and attributes)."""
    folder = tmp_path_factory.mktemp("repro") / "data"
    make_customers(5000, seed=7).write(folder)
    config = synthetic_config()
    config.data.dir = str(folder)
    tables = load(config)
    cutoff = tables.transactions["timestamp"].max()
    return build_features(tables, cutoff, FeatureSpec.fit(tables, cutoff, config))


def _perturbed(X: pd.DataFrame, relative: float, seed: int = 1) -> pd.DataFrame:
    """Every float column times (1 +- relative), the sign drawn per value."""
    rng = np.random.default_rng(seed)
    out = X.copy()
    for column in out.columns:
        if out[column].dtype.kind == "f":
            out[column] = out[column] * (1 + relative * rng.choice([-1.0, 1.0], len(out)))
    return out


def _segments(X: pd.DataFrame, **params) -> pd.DataFrame:
    rules = RuleSegmenter().fit(X).transform(X)
    h = SegmentHierarchy(random_state=42, **params).fit(X, rule_segments=rules)
    return h.assign(X, rule_segments=rules)[["segment_leaf", "segment_path", "segment_is_noise"]]


@pytest.mark.parametrize("params", [{}, {"leaf_method": "kmeans"},
                                    {"guided_levels": (("region", 3),), "sample_size": 2000}],
                         ids=["hdbscan", "kmeans", "guided-sampled"])
def test_a_last_bits_perturbation_changes_no_segment(features, params):
    reference = _segments(features, **params)
    assert reference["segment_path"].nunique() >= 3
    for relative, seed in ((1e-12, 1), (1e-12, 2), (1e-13, 3)):
        moved = _segments(_perturbed(features, relative, seed), **params)
        pd.testing.assert_frame_equal(moved, reference)  # identical ids for every customer


_CHILD = textwrap.dedent("""
    import hashlib, json, sys
    import pandas as pd
    from segml.segments import RuleSegmenter, SegmentHierarchy
    X = pd.read_parquet(sys.argv[1])
    params = json.loads(sys.argv[2])
    rules = RuleSegmenter().fit(X).transform(X)
    h = SegmentHierarchy(random_state=42, **params).fit(X, rule_segments=rules)
    paths = h.assign(X, rule_segments=rules)["segment_path"].astype(str)
    print(hashlib.sha256("|".join(paths).encode()).hexdigest())
""")


@pytest.mark.parametrize("params", [{}, {"leaf_method": "kmeans"}], ids=["hdbscan", "kmeans"])
def test_one_or_two_blas_and_openmp_threads_give_the_same_segments(features, params, tmp_path):
    path = tmp_path / "features.parquet"
    features.to_parquet(path)
    digests = []
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
               "MKL_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", _CHILD, str(path), json.dumps(params)],
                             env=env, capture_output=True, text=True, timeout=300, check=True)
        digests.append(run.stdout.strip().splitlines()[-1])
    here = _segments(features, **params)["segment_path"].astype(str)
    assert digests[0] == digests[1] == hashlib.sha256("|".join(here).encode()).hexdigest()


def test_the_clustering_space_is_on_a_fixed_grid(features):
    pre = SegmentPreprocessor().fit(features)
    Z = pre.transform(features)
    assert np.array_equal(Z, np.round(Z, 6))
    # equal features, equal coordinates: a customer's row repeated lands on the same point
    twice = pd.concat([features.iloc[:50], features.iloc[:50]])
    Z2 = pre.transform(twice)
    assert np.array_equal(Z2[:50], Z2[50:])


def test_the_projection_does_not_depend_on_the_row_order_or_the_sign_of_a_solver():
    rng = np.random.default_rng(0)
    D = rng.normal(size=(2000, 6)) @ rng.normal(size=(6, 6))
    axes = principal_axes(D, 3)
    shuffled = principal_axes(D[rng.permutation(len(D))], 3)
    assert np.allclose(axes.components_, shuffled.components_, atol=1e-10)
    # each axis signed so that its largest coefficient is positive
    largest = np.abs(axes.components_).argmax(axis=1)
    assert (axes.components_[np.arange(3), largest] > 0).all()
    flipped = principal_axes(-D, 3)  # the data mirrored: the same axes, not mirrored ones
    assert np.allclose(flipped.components_, axes.components_, atol=1e-10)


def test_leaf_ids_do_not_depend_on_the_algorithm_s_label_order():
    labels = np.array([5, 5, -1, 2, 9, 2, 5])
    relabelled = np.array([0, 0, -1, 7, 3, 7, 0])  # the same partition, other ids
    assert canonical_labels(labels)[0].tolist() == canonical_labels(relabelled)[0].tolist() == [
        0, 0, -1, 1, 2, 1, 0]
