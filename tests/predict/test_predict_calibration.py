import numpy as np
import pytest
from scipy.special import expit

from segml.predict.calibration import Calibrator
from segml.predict.metrics import ece, roc_auc


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_improves_ece_on_miscalibrated_score(method):
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 2, 6000)
    y = (rng.random(6000) < expit(0.4 * margin - 1.0)).astype(float)  # true p != expit(margin)
    fit, test = slice(0, 3000), slice(3000, None)
    raw_ece = ece(y[test], expit(margin[test]))
    cal = Calibrator(method).fit(margin[fit], y[fit])
    p = cal.transform(margin[test])
    assert raw_ece > 0.1
    assert ece(y[test], p) < 0.03
    assert ((p >= 0) & (p <= 1)).all()
    # monotone: the ranking (and so ROC AUC) is preserved
    assert roc_auc(y[test], p) == pytest.approx(roc_auc(y[test], margin[test]), abs=1e-9)


def test_none_and_single_class():
    m = np.array([-1.0, 0.0, 1.0])
    assert np.allclose(Calibrator("none").fit(m, [0, 1, 1]).transform(m), expit(m))
    assert np.allclose(Calibrator("isotonic").fit(m, [1, 1, 1]).transform(m), expit(m))
    with pytest.raises(ValueError):
        Calibrator("platt").fit(m, [0, 1, 1])
