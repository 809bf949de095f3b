"""The one set of number checks and the one seed derivation."""
from __future__ import annotations

import math

import pytest

from robustlab.core.checks import check_choice, check_float, check_int, number_complaint
from robustlab.core.errors import ParameterError
from robustlab.core.seeds import derive_seed, numpy_rng, torch_generator


@pytest.mark.parametrize("v, ok", [(3, True), (3.0, True), (2.5, False), (True, False), ("3", False), (-1, False)])
def test_check_int(v, ok):
    if ok:
        assert check_int("n", v, 0) == 3
    else:
        with pytest.raises(ParameterError, match=r"n=.* must be an integer >= 0"):
            check_int("n", v, 0)


def test_check_float_intervals_and_messages():
    assert check_float("x", 0.5, 0, 1) == 0.5
    for bad in (math.nan, math.inf, -0.1, 1.1):
        with pytest.raises(ParameterError, match=r"x=.* must be a finite number in \[0, 1\]"):
            check_float("x", bad, 0, 1)
    with pytest.raises(ParameterError, match=r"must be a finite number > 0"):
        check_float("lr", 0.0, 0, lo_open=True)
    assert number_complaint(5, 0, 10) is None and number_complaint(11, 0, 10) == "must be a finite number in [0, 10]"
    assert check_choice("kind", "blur", ("noise", "blur")) == "blur"
    with pytest.raises(ParameterError, match=r"kind='jpeg' is unknown; choose one of \['noise', 'blur'\]"):
        check_choice("kind", "jpeg", ("noise", "blur"))


def test_seeds_are_stable_named_and_independent():
    assert derive_seed(0, "train-noise", 3) == derive_seed(0, "train-noise", 3)
    assert 0 <= derive_seed(0, "x") < 2**63
    seeds = {derive_seed(s, name, e) for s in (0, 1) for name in ("train-noise", "train-shuffle") for e in range(5)}
    assert len(seeds) == 20  # no two streams share a seed
    assert numpy_rng(0, "a").integers(1 << 30) == numpy_rng(0, "a").integers(1 << 30)
    assert torch_generator(0, "a").initial_seed() == derive_seed(0, "a")
