"""Intervals (robustlab.core.stats) and the verdict rules that read them (robustlab.core.claims)."""
import numpy as np
import pytest

from robustlab.core.claims import NOT_TESTABLE, Claim, below, combine, exceeds, within
from robustlab.core.stats import Estimate, bootstrap, estimate, over_seeds, t_quantile, wilson


def _est(v, lo, hi):
    return Estimate(v, lo, hi, "test", 10)


def test_exceeds_and_below_go_every_way():
    assert exceeds(_est(0.05, 0.01, 0.09)) == "yes"
    assert exceeds(_est(0.05, -0.01, 0.09)) == "partly"
    assert exceeds(_est(-0.05, -0.09, 0.01)) == "no"
    assert exceeds(_est(0.05, 0.01, 0.09), margin=0.02) == "partly"
    assert below(_est(-0.05, -0.09, -0.01)) == "yes"
    assert below(_est(-0.05, -0.09, 0.01)) == "partly"
    assert below(_est(0.05, 0.01, 0.09)) == "no"
    assert exceeds(_est(float("nan"), float("nan"), float("nan"))) == NOT_TESTABLE
    # no interval: never more than partly
    assert exceeds(Estimate(0.5, float("nan"), float("nan"))) == "partly"


def test_within_is_an_equivalence_test():
    assert within(_est(0.0, -0.02, 0.02), 0.03) == "yes"
    assert within(_est(0.01, -0.02, 0.05), 0.03) == "partly"  # the value is inside, the interval is not
    assert within(_est(0.06, 0.04, 0.08), 0.03) == "no"


def test_combine():
    assert combine(["yes", "yes"]) == "yes"
    assert combine(["yes", "no"]) == "partly"
    assert combine(["partly", "no"]) == "partly"
    assert combine(["no", "no", NOT_TESTABLE]) == "no"
    assert combine([NOT_TESTABLE]) == NOT_TESTABLE


def test_paired_bootstrap_is_narrower_than_independent():
    rng = np.random.default_rng(0)
    a = rng.random(1000) < 0.6
    b = a.copy()
    flip = rng.choice(1000, 30, replace=False)  # b differs from a on 3 % of the images
    b[flip] = ~b[flip]
    e = bootstrap(lambda x, y: x.mean() - y.mean(), a, b, n_boot=500)
    assert e.lo <= e.value <= e.hi
    independent_se = np.sqrt(2 * 0.24 / 1000)
    assert (e.hi - e.lo) / 2 < independent_se  # pairing removes the shared variation
    assert e.method == "bootstrap over 1000 images"
    assert bootstrap(lambda x: x.mean(), a, n_boot=500, seed=3) == bootstrap(lambda x: x.mean(), a, n_boot=500, seed=3)


def test_bootstrap_refuses_unpaired_shapes():
    with pytest.raises(ValueError, match="last axes"):
        bootstrap(lambda x, y: 0.0, np.zeros(5), np.zeros(6))


def test_estimate_uses_seeds_when_there_are_several():
    one = estimate(lambda c: c.mean(), np.ones((1, 50), bool), n_boot=100)
    assert one.method.startswith("bootstrap")
    vals = np.array([[0.5], [0.6], [0.7]])
    e = estimate(lambda c: c.mean(), vals)
    assert e.method == "t over 3 seeds" and e.value == pytest.approx(0.6)
    h = t_quantile(2) * 0.1 / np.sqrt(3)
    assert (e.lo, e.hi) == pytest.approx((0.6 - h, 0.6 + h))
    assert over_seeds([0.4]).method == "one seed" and not over_seeds([0.4]).finite


def test_t_table_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    from robustlab.core import stats as st

    for df in (1, 2, 5, 29):
        assert st._T95[df - 1] == pytest.approx(stats.t.ppf(0.975, df), abs=1e-3)


def test_wilson():
    e = wilson(0, 20)
    assert e.value == 0 and e.lo == pytest.approx(0, abs=1e-12) and 0.1 < e.hi < 0.2
    e = wilson(50, 100)
    assert e.lo == pytest.approx(0.4038, abs=1e-3) and e.hi == pytest.approx(0.5962, abs=1e-3)


def test_claim_of_carries_the_interval():
    c = Claim.of("A-data", "x", "yes", "w", _est(0.05, 0.01, 0.09), scale=100, unit="pts")
    rec = c.record()
    assert rec["value"] == pytest.approx(5) and rec["interval"] == pytest.approx([1, 9]) and rec["unit"] == "pts"
    from robustlab.book.checklist import value_text

    assert value_text(rec) == "5.00 [1.00, 9.00] pts (test)"
    assert value_text({"value": 3.0}) == "3 (exact)"
