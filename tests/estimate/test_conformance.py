"""Every estimator keeps the same contract: parameters in, ``fit`` returns self, an immutable result out."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dadkhah.errors import InputError
from dadkhah.estimate import METHODS, EstimationError, estimate_table, estimator_for
from tests.estimate.conftest import table

FAST = {"lcmcr": {"iterations": 2_000, "burn_in": 1_000, "thin": 10, "chains": 2, "random_state": 3},
        "loglinear": {"random_state": 3}, "bma": {}, "chao": {}, "lincoln-petersen": {}}


def two_or_three(method):
    if method == "lincoln-petersen":
        return table("AB", p10=120, p01=90, p11=40)
    return table("ABC", p100=60, p010=50, p001=40, p110=20, p101=15, p011=12, p111=6)


@pytest.mark.parametrize("method", METHODS)
def test_estimator_contract(method):
    made = two_or_three(method)
    counts_before = made.counts.copy()
    estimator = estimator_for(method, **FAST[method])
    assert type(estimator).__name__ in repr(estimator)
    assert estimator.fit(made) is estimator
    result = estimator.result_
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.estimate = 0  # type: ignore[misc]
    assert (made.counts == counts_before).all()
    assert result.method == method
    assert result.observed == made.observed
    assert result.interval[0] <= result.estimate <= result.interval[1]
    assert result.estimate >= made.observed
    assert result.input_sha256 == made.digest()
    assert result.lists == made.lists
    assert "numpy" in result.software and "dadkhah" in result.software
    document = result.to_dict()
    assert json.loads(json.dumps(document))["interval"] == list(result.interval)


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_result(method):
    made = two_or_three(method)
    first = estimate_table(made, method, **FAST[method])
    second = estimate_table(made, method, **FAST[method])
    assert (first.estimate, first.interval) == (second.estimate, second.interval)


def test_unknown_method_and_parameter_are_refused():
    with pytest.raises(InputError, match="method must be one of") as unknown:
        estimator_for("guess")
    assert unknown.value.field == "method"
    with pytest.raises(EstimationError, match="lcmcr"):
        estimate_table(two_or_three("lcmcr"), "lcmcr", colour="red")
