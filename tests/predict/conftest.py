"""Fixtures for the prediction tests (data from :mod:`synth_predict`)."""

import pytest
from synth_predict import make_xy


@pytest.fixture(scope="session")
def data():
    return make_xy(4000, seed=1, cutoffs=2)
