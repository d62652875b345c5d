import pytest

from segml.segments import SegmentHierarchy

from .blobs import make_segment_blobs


@pytest.fixture(scope="session")
def blobs():
    return make_segment_blobs(3000, seed=11)


@pytest.fixture(scope="session")
def fitted(blobs):
    X, _ = blobs
    h = SegmentHierarchy(random_state=3).fit(X)
    return h, h.assign(X)
