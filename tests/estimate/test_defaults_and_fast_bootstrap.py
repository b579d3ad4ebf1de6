"""The method chosen when none is named, model uncertainty by default, and the fast bootstrap with
re-selection (every model of a resample fitted at once, resamples shared among processes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from dadkhah.cli import app
from dadkhah.estimate import AUTO, choose_method, estimate_table, method_parameters
from dadkhah.estimate.loglinear import LogLinear, _candidate_models, _Procedure, _Replicates
from dadkhah.estimate.loglinear_batch import BatchedSelection
from dadkhah.estimate.loglinear_fit import _full_counts
from tests.estimate.conftest import MSE, published, table


@pytest.mark.parametrize(("lists", "method"), [(2, "lincoln-petersen"), (3, "bma"), (5, "bma"), (6, "lcmcr"), (20, "lcmcr")])
def test_the_method_follows_the_number_of_lists(lists, method):
    chosen, because = choose_method(lists)
    assert chosen == method and because.startswith(f"{lists} lists")


def test_auto_says_why_in_the_result_and_warns_on_two_lists():
    result = estimate_table(published("korea_comfort_women"), AUTO, **method_parameters(AUTO))
    assert result.method == "bma" and "3 lists" in result.chosen_because
    assert result.to_dict()["chosen_because"] == result.diagnostics["chosen_because"]
    two = estimate_table(table("AB", p10=10, p01=20, p11=5), AUTO, **method_parameters(AUTO))
    assert two.method == "lincoln-petersen" and any("independent" in w for w in two.warnings)
    assert len([w for w in two.warnings if "independent" in w]) == 1, "said once, not twice in other words"


def test_a_list_that_records_nobody_is_left_out_with_a_warning():
    """A table file whose lists c, d, e, f and g name nobody: kept, they made the default method
    LCMCR (7 lists) and Chao's (t - 1)/t factor 6/7; left out, the table is the two lists it is."""
    from dadkhah.estimate import CaptureTable, EstimationError

    wide = CaptureTable(tuple("abcdefg"), np.array([[1, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]]),
                        np.array([5, 4, 1]))
    narrow = table("ab", p10=5, p01=4, p11=1)
    for method in (AUTO, "chao"):
        result, alone = (estimate_table(t, method, **method_parameters(method)) for t in (wide, narrow))
        assert (result.method, result.estimate, result.interval) == (alone.method, alone.estimate, alone.interval)
        assert result.lists == ("a", "b")
        assert result.warnings[0].startswith("lists c, d, e, f and g record nobody in this table: left out")
        assert result.warnings[1:] == alone.warnings
    with pytest.raises(EstimationError, match="only list 'a' records anyone"):
        estimate_table(CaptureTable(("a", "b"), np.array([[1, 0]]), np.array([3])), AUTO, **method_parameters(AUTO))


def test_loglinear_carries_model_uncertainty_by_default_and_can_be_turned_off():
    assert method_parameters("loglinear")["interval"] == "bootstrap"
    assert method_parameters("loglinear")["model_uncertainty"] is True
    assert method_parameters("loglinear", model_uncertainty=False)["interval"] == "profile"
    assert method_parameters("loglinear", interval="profile")["model_uncertainty"] is False
    assert method_parameters("loglinear", interval="bca")["model_uncertainty"] is True


def test_the_cli_chooses_and_prints_the_reason(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    korea = str(MSE / "korea_comfort_women.csv")
    document = json.loads(runner.invoke(app, ["estimate", "table", korea, "--json"], catch_exceptions=False).stdout)
    assert document["method"] == "bma" and "model averaging" in document["chosen_because"]
    shown = runner.invoke(app, ["estimate", "table", korea], catch_exceptions=False)
    assert shown.exit_code == 0 and "method bma chosen: 3 lists" in shown.stderr
    fixed = json.loads(runner.invoke(app, ["estimate", "table", korea, "--method", "loglinear", "--no-model-uncertainty",
                                           "--json"], catch_exceptions=False).stdout)
    assert fixed["parameters"]["interval"] == "profile" and fixed["chosen_because"] is None


def _resamples(count, seed=5):
    uk = published("uk_modern_slavery_5list")
    patterns, y = _full_counts(uk)
    procedure = _Procedure("bic", (), 2, 0.02)
    fit, _ = procedure.run(patterns, y)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        sample = np.zeros(len(patterns))
        sample[fit.design.keep] = rng.multinomial(int(fit.observed), fit.mu / fit.mu.sum())
        out.append(sample)
    return patterns, y, procedure, fit, out


def test_the_batched_search_chooses_what_the_one_at_a_time_search_chooses():
    patterns, y, procedure, fit, resamples = _resamples(6)
    compiled = BatchedSelection(5, list(_candidate_models(5, 2)), "bic")
    compiled.warm_start(y)
    reference = BatchedSelection(5, list(_candidate_models(5, 2)), "bic", compiled=False)
    for sample in [y, *resamples]:
        old, _ = procedure.run(patterns, sample)
        for engine in (compiled, reference):
            n_hat, terms = engine.select(sample)
            assert terms == old.terms
            assert n_hat == pytest.approx(old.n_hat, rel=1e-8)


def test_the_usable_models_are_those_the_checks_pass():
    patterns, _, procedure, _, resamples = _resamples(3, seed=9)
    models = list(_candidate_models(5, 2))
    engine = BatchedSelection(5, models, "bic")
    for sample in resamples:
        sample[np.flatnonzero(sample)[:3]] = 0  # sparser, so that some checks fail
        checks = _Procedure("bic", (), 2, 0.02)._precheck(patterns, sample, models)
        assert list(engine.usable(sample)) == [checks[m] == (True, True) for m in models]


def test_the_interval_does_not_depend_on_the_number_of_workers():
    """The resamples are drawn in one process in a fixed order and only then shared: one worker
    or two give the same numbers (so the same seed gives today's answer)."""
    uk = published("uk_modern_slavery_5list")
    results = [LogLinear(interval="bootstrap", model_uncertainty=True, n_bootstrap=120, random_state=2,
                         workers=w).fit(uk).result_ for w in (1, 2)]
    assert results[0].interval == results[1].interval
    assert results[1].diagnostics["interval"]["workers"] == 2
    assert results[0].diagnostics["interval"]["models_in_resamples"] == results[1].diagnostics["interval"]["models_in_resamples"]


def test_the_one_at_a_time_replicates_give_the_same_estimates():
    patterns, y, procedure, fit, resamples = _resamples(4, seed=3)
    fast = _Replicates(procedure, patterns, fit.terms, True, y)
    slow = _Replicates(procedure, patterns, fit.terms, True, y)
    slow._batched = lambda n_lists: None
    assert np.allclose(fast.estimate_all(resamples, workers=1), [slow.estimate(s) for s in resamples], rtol=1e-8)


_SCRIPT = """import sys
print("top level ran", file=sys.stderr)
from dadkhah.estimate import read_table
from dadkhah.estimate.loglinear import LogLinear
def main():
    fit = LogLinear(interval="bootstrap", model_uncertainty=True, n_bootstrap=120, random_state=2, workers=2)
    print(fit.fit(read_table({path!r})).result_.interval)
{call}
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_estimating_on_both_cores_works_under_a_main_guard_and_says_so_without(tmp_path, guarded):
    """Each worker process starts by running the main script again: without the guard it estimates
    again inside the worker and the pool breaks. The error must say why and what to do, not
    'A process in the process pool was terminated abruptly'."""
    import subprocess
    import sys

    call = 'if __name__ == "__main__":\n    main()' if guarded else "main()"
    script = tmp_path / "estimate.py"
    script.write_text(_SCRIPT.format(path=str(MSE / "uk_modern_slavery_5list.csv"), call=call))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    if guarded:
        assert done.returncode == 0, done.stderr
        alone = LogLinear(interval="bootstrap", model_uncertainty=True, n_bootstrap=120, random_state=2,
                          workers=1).fit(published("uk_modern_slavery_5list")).result_
        assert done.stdout.strip() == str(alone.interval)  # the same numbers as in one process
        assert done.stderr.count("top level ran") == 3  # the script, then each worker importing it
    else:
        assert done.returncode != 0
        # The error ends the traceback; multiprocessing's resource tracker (a process of its own) may
        # still print its warning about the broken pool's semaphores after it, so it need not be last.
        said = [line for line in done.stderr.splitlines()
                if line.startswith("dadkhah.estimate.core.EstimationError: the bootstrap's 2 worker processes stopped")]
        assert len(said) == 1, done.stderr[-2000:]
        assert str(script) in said[0] and 'if __name__ == "__main__":' in said[0] and "workers=1" in said[0]
