"""Chao's lower bound and Lincoln–Petersen / Chapman, checked against values worked by hand."""

from __future__ import annotations

import math

import pytest

from dadkhah.estimate import Chao, EstimationError, LincolnPetersen, chao, lincoln_petersen
from tests.estimate.conftest import table


def test_chapman_and_lincoln_petersen_by_hand():
    # 150 on list A, 130 on list B, 50 on both: LP = 150*130/50 = 390; Chapman = 151*131/51 - 1.
    two = table("AB", p10=100, p01=80, p11=50)
    model = LincolnPetersen().fit(two)
    assert model.n_hat_ == pytest.approx(151 * 131 / 51 - 1)
    assert model.result_.diagnostics["lincoln_petersen"] == pytest.approx(390)
    lo, hi = model.interval_
    assert two.observed < lo < model.n_hat_ < hi
    assert model.result_.warnings == ("assumes the two lists record people independently of each other",)


def test_lincoln_petersen_refuses_other_than_two_lists_and_warns_on_small_overlap():
    with pytest.raises(EstimationError, match="exactly two lists"):
        lincoln_petersen(table("ABC", p100=5, p010=4, p001=3, p110=2))
    few = lincoln_petersen(table("AB", p10=100, p01=80, p11=3))
    assert any("only 3 people are on both" in w for w in few.warnings)


def test_lincoln_petersen_gives_no_number_for_lists_that_never_overlap():
    """Chapman's formula gives 50·40 - 1 = 1,999 with a finite interval for two lists no person is on
    together; the data put no upper bound on the total, so no figure is the honest answer."""
    with pytest.raises(EstimationError, match="no one is on both lists"):
        lincoln_petersen(table("AB", p10=49, p01=39, p11=0))


def test_chao_by_hand():
    # f1 = 40+30+20 = 90, f2 = 10+5+5 = 20, t = 3: unseen = (2/3) * 90^2 / (2*20) = 135.
    three = table("ABC", p100=40, p010=30, p001=20, p110=10, p101=5, p011=5, p111=2)
    result = chao(three)
    assert result.observed == 112
    assert result.estimate == pytest.approx(112 + 135)
    assert result.diagnostics["times_seen"] == [90, 20, 2]
    lo, hi = result.interval
    assert 112 < lo < 247 < hi
    assert "lower bound" in result.warnings[0]


def test_chao_bias_corrected_when_nobody_is_on_exactly_two_lists():
    three = table("ABC", p100=10, p010=8, p001=6, p111=3)
    result = Chao().fit(three).result_
    assert result.estimate == pytest.approx(27 + (2 / 3) * 24 * 23 / 2)
    assert "bias-corrected" in result.model


def test_interval_widens_with_level():
    two = table("AB", p10=100, p01=80, p11=50)
    narrow = lincoln_petersen(two, level=0.8).interval
    wide = lincoln_petersen(two, level=0.99).interval
    assert wide[0] < narrow[0] and wide[1] > narrow[1]
    assert math.isclose(lincoln_petersen(two, level=0.8).estimate, lincoln_petersen(two, level=0.99).estimate)
