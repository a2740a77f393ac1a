"""benchmarks/pooled_heldout.py: the pooled comparison takes only datasets where every method
finished the same seeds, and its IQM is rliable's on the runs' final scores."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from coopo.bench import stats
from coopo.bench.report import load_results

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
spec = importlib.util.spec_from_file_location("pooled_heldout", BENCHMARKS / "pooled_heldout.py")
ph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ph)


@pytest.fixture(scope="module")
def heldout():
    return load_results(BENCHMARKS / "results" / "cpu-heldout")


def test_only_datasets_with_the_same_seeds_for_every_method_are_pooled(heldout):
    new = load_results(BENCHMARKS / "results" / "cpu-new")
    methods = ("coopo", "coopo-1cycle", "calql-ft")
    scores, used, left_out = ph.pooled([heldout, new], methods)
    assert used == heldout.datasets and len(used) == 3
    # ant-medium has no Cal-QL fine-tuning runs yet: left out, saying so
    assert [r.split(" ")[0] for r in left_out] == ["ant-medium"]
    assert "calql-ft: 0" in left_out[0]
    for m in methods:
        assert scores[m].shape == (10, 3)
        # column j holds the final scores of dataset j's seeds, in seed order
        expected = [[stats.final_score(r.curve) for r in heldout.select(d, m)] for d in used]
        np.testing.assert_array_equal(scores[m], np.array(expected).T)
    # methods that have ant-medium's seeds, but 5 there against 10 elsewhere: refused
    with pytest.raises(SystemExit, match="different numbers of seeds"):
        ph.pooled([heldout, new], ("coopo", "coopo-1cycle"))


def test_iqm_is_that_of_the_pooled_final_scores(heldout):
    scores, _, _ = ph.pooled([heldout], ("coopo", "coopo-1cycle"))
    point, low, high = stats.interval(scores["coopo"], stats.iqm, reps=200)
    assert point == pytest.approx(stats.iqm(scores["coopo"]))
    assert low <= point <= high
    flat = np.sort(scores["coopo"].ravel())
    n = flat.size
    assert point == pytest.approx(flat[n // 4 : n - n // 4].mean())  # 30 runs: the middle 16


def test_nothing_to_pool_is_an_error(heldout):
    with pytest.raises(SystemExit, match="same seeds"):
        ph.pooled([heldout], ("coopo", "no-such-method"))
