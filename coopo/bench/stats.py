"""Statistics of a results directory: per-run curve measures, and their confidence intervals.

Per-run measures are plain functions of one seed's evaluation curve (the rows of its
``metrics.jsonl`` carrying ``eval/normalized_score``):

- :func:`final_score`: the mean of the last 3 evaluations (one evaluation swings by tens of
  points);
- :func:`normalized_auc`: the area under the learning curve over online env steps (trapezoid
  on the evaluation grid), divided by the online budget: the mean score over training;
- :func:`interactions_to_target`: the first online env-step count at which the score reached a
  target (``inf`` if it never did); :func:`interactions_to_held_target` asks the next two
  evaluations to stay at or above it too;
- :func:`forgetting`: for every offline->online switch, the end-of-offline score minus the
  minimum score during the following online phase (positive = forgot); with ``window`` only
  the evaluations in the first ``window`` env steps after the switch count, so a method with
  one long online phase is not judged on more evaluations than one with short phases;
- :func:`data_level`: the dataset's own normalised return (mean over its episodes), the
  reference line that targets must clear to mean anything.

Across seeds, intervals are rliable's stratified bootstrap (runs resampled within each task,
percentile intervals); comparisons of two methods use rliable's probability of improvement
(:func:`probability_of_improvement`), ``arch``'s independent-samples bootstrap for ratios,
scipy's paired t interval for per-seed differences (:func:`paired_difference`) and statsmodels'
Holm correction over a report's comparisons (:func:`holm`); nothing here hand-rolls a resampler
or a test.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Curve:
    """One seed's evaluations in order: env steps, score, phase ('offline'/'online'), cycle,
    and whether the evaluation closed a phase."""

    env_steps: np.ndarray
    score: np.ndarray
    phase: tuple[str, ...]
    cycle: np.ndarray
    phase_end: np.ndarray

    @staticmethod
    def of(rows: Sequence[dict[str, object]], key: str = "eval/normalized_score") -> Curve:
        ev = [r for r in rows if key in r]
        return Curve(
            np.asarray([r["env_steps"] for r in ev], np.int64),
            np.asarray([r[key] for r in ev], np.float64),
            tuple(str(r["phase"]) for r in ev),
            np.asarray([r["cycle"] for r in ev], np.int64),
            np.asarray([bool(r.get("eval/phase_end", 0.0)) for r in ev]),
        )


FINAL_EVALUATIONS = 3
"""Evaluations averaged into the final score."""


def final_score(curve: Curve, last: int = FINAL_EVALUATIONS) -> float:
    """Mean of the last ``last`` evaluations (fewer if the run has fewer)."""
    return float(np.mean(curve.score[-last:])) if len(curve.score) else float("nan")


def normalized_auc(curve: Curve, budget: int) -> float:
    """Area under the score curve over online env steps [0, budget], divided by ``budget``
    (the time-averaged score, in score units).

    Trapezoid on the evaluations in their logged order: evaluations at the same env-step
    count (a COOPO offline phase between two online phases) add a zero-width segment, and the
    next segment starts from the later one. A curve whose first evaluation comes after 0 (SAC
    from scratch) is held flat back to 0: with ``random_steps`` >= that evaluation's env steps
    no update has happened before it, so it is the policy that acted from step 0.
    """
    if not len(curve.score) or budget <= 0:
        return float("nan")
    x = np.concatenate([[0.0], curve.env_steps.astype(np.float64), [float(budget)]])
    y = np.concatenate([[curve.score[0]], curve.score, [curve.score[-1]]])
    keep = x <= budget
    return float(np.trapezoid(y[keep], x[keep]) / budget)


def interactions_to_target(curve: Curve, target: float) -> float:
    """Online env steps at the first evaluation scoring >= ``target`` (inf if none did).

    An evaluation at the end of an offline phase counts at the env steps spent so far, so a
    policy that already meets the target after pre-training needs 0 interactions.
    """
    hit = np.nonzero(curve.score >= target)[0]
    return float(curve.env_steps[hit[0]]) if len(hit) else float("inf")


def interactions_to_held_target(curve: Curve, target: float, hold: int = 2) -> float:
    """Online env steps at the first evaluation scoring >= ``target`` whose next ``hold``
    evaluations also score >= ``target`` (inf if none did): a target touched once by a noisy
    evaluation is not reached. An evaluation with fewer than ``hold`` evaluations after it
    cannot be confirmed and does not count."""
    ok = curve.score >= target
    n = len(ok)
    for i in range(n - hold):
        if ok[i : i + hold + 1].all():
            return float(curve.env_steps[i])
    return float("inf")


def forgetting(curve: Curve, window: int | None = None) -> list[float]:
    """Score drop at each offline->online switch: end-of-offline score minus the minimum over
    the following online phase's evaluations (its end included).

    With ``window``, only the online evaluations within ``window`` env steps of the switch
    count (give every method the same window, e.g. the suite's shortest online phase, so each
    switch is judged on the same number of evaluations whatever its phase length).
    """
    drops = []
    for i in range(len(curve.score)):
        if curve.phase[i] != "offline" or not curve.phase_end[i]:
            continue
        j = i + 1
        online = []
        while j < len(curve.score) and curve.phase[j] == "online":
            if window is None or curve.env_steps[j] - curve.env_steps[i] <= window:
                online.append(curve.score[j])
            if curve.phase_end[j]:
                break
            j += 1
        if online:
            drops.append(float(curve.score[i] - min(online)))
    return drops


def data_level(episode_returns: np.ndarray, ref_min: float, ref_max: float) -> float:
    """The dataset's own normalised return: 100 (mean episode return - ref_min) / (ref_max -
    ref_min), with the references the runs' scores use (as in docs/guides/datasets.md)."""
    from coopo.evaluation import normalized_score

    return float(normalized_score(np.mean(episode_returns), ref_min, ref_max))


def on_grid(curve: Curve, grid: np.ndarray) -> np.ndarray:
    """The curve's latest score at or before each online env-step count of ``grid`` (a step
    function: the policy that was evaluated last is the one in use)."""
    idx = np.searchsorted(curve.env_steps, grid, side="right") - 1
    out = np.where(idx >= 0, curve.score[np.clip(idx, 0, None)], np.nan)
    return out


# ----------------------------------------------------------------------------- intervals
def _rng(seed: int) -> np.random.RandomState:
    return np.random.RandomState(seed)


def bootstrap(
    scores: np.ndarray,
    func: Callable[[np.ndarray], np.ndarray],
    reps: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimates and 95% stratified-bootstrap percentile intervals of a vector-valued
    ``func`` of a (runs x tasks) score matrix (rliable; runs resampled within each column)."""
    from rliable import library as rly

    with warnings.catch_warnings(), _global_numpy_seed(seed):
        warnings.simplefilter("ignore", FutureWarning)  # rliable passes arch random_state
        point, ci = rly.get_interval_estimates(
            {"m": np.asarray(scores, np.float64)},
            func,
            reps=reps,
            confidence_interval_size=CONFIDENCE,
            random_state=_rng(seed),
        )
    return point["m"], ci["m"][0], ci["m"][1]


@contextlib.contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    """rliable draws stratified resamples of multi-task matrices (and performance-profile
    bands) from numpy's global RNG, whatever ``random_state`` says: seed it for reproducible
    reports, and restore the caller's state afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def interval(
    scores: np.ndarray,
    func: Callable[[np.ndarray], float] | None = None,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Point estimate and 95% stratified-bootstrap interval of a scalar ``func`` (default: the
    mean) over a (runs x tasks) score matrix, or a vector of runs."""
    scores = np.asarray(scores, np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    f = func or (lambda x: np.mean(x))
    point, lo, hi = bootstrap(scores, lambda x: np.array([f(x)]), reps, seed)
    return float(point[0]), float(lo[0]), float(hi[0])


def iqm(scores: np.ndarray) -> float:
    from rliable import metrics

    return float(metrics.aggregate_iqm(scores))


def ratio_interval(
    ours: np.ndarray, theirs: np.ndarray, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Relative reduction 1 - mean(ours)/mean(theirs), with a 95% independent-samples
    bootstrap percentile interval (arch)."""
    from arch.bootstrap import IndependentSamplesBootstrap

    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)

    def reduction(a: np.ndarray, b: np.ndarray) -> float:
        mb = float(np.mean(b))
        return 1.0 - float(np.mean(a)) / mb if mb > 0 else float("nan")

    point = reduction(ours, theirs)
    if not np.isfinite(point):
        return point, float("nan"), float("nan")
    bs = IndependentSamplesBootstrap(ours, theirs, seed=np.random.default_rng(seed))
    # Resamples whose baseline mean is 0 (every draw reached the target at once) have no
    # ratio; the percentiles are over the others.
    draws = bs.apply(lambda a, b: np.array([reduction(a, b)]), reps=reps)[:, 0]
    tail = 100 * (1 - CONFIDENCE) / 2
    lo, hi = np.nanpercentile(draws, [tail, 100 - tail])
    return point, float(lo), float(hi)


def performance_profile(
    scores: dict[str, np.ndarray], taus: np.ndarray, reps: int = 2000, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fraction of runs scoring above each tau, with stratified-bootstrap bands (rliable)."""
    from rliable import library as rly

    with _global_numpy_seed(seed):
        return rly.create_performance_profile(scores, taus, reps=reps)  # type: ignore[no-any-return]


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """P(X > Y): the probability that a run of X scores above a run of Y on the same task
    (Mann-Whitney U / (n m), ties counted half), averaged over tasks, with its 95% stratified
    independent bootstrap interval (rliable). ``x``, ``y``: (runs x tasks), or vectors of
    runs of one task; their run counts may differ."""
    from rliable import library as rly
    from rliable import metrics

    x, y = (np.asarray(a, np.float64) for a in (x, y))
    x, y = (a[:, None] if a.ndim == 1 else a for a in (x, y))
    with warnings.catch_warnings(), _global_numpy_seed(seed):
        warnings.simplefilter("ignore", FutureWarning)
        point, ci = rly.get_interval_estimates(
            {"x,y": (x, y)},
            lambda a, b: np.array([metrics.probability_of_improvement(a, b)]),
            reps=reps,
            confidence_interval_size=CONFIDENCE,
            random_state=_rng(seed),
        )
    return float(point["x,y"][0]), float(ci["x,y"][0][0]), float(ci["x,y"][1][0])


@dataclass(frozen=True)
class PairedDifference:
    """Mean of per-seed differences x_i - y_i, its 95% t interval and two-sided p-value."""

    mean: float
    low: float
    high: float
    p_value: float
    n: int


def paired_difference(x: np.ndarray, y: np.ndarray) -> PairedDifference:
    """Paired per-seed comparison (scipy's ``ttest_rel``): runs ``x[i]`` and ``y[i]`` share a
    seed, hence the dataset, the network initialisation key and the evaluation env seeds, so
    the seed's own luck cancels in the difference."""
    from scipy import stats as st

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples need equal 1-D shapes, got {x.shape} and {y.shape}")
    d = x - y
    if len(d) < 2:
        nan = float("nan")
        return PairedDifference(float(np.mean(d)) if len(d) else nan, nan, nan, nan, len(d))
    if np.ptp(d) <= 1e-9 * max(1.0, float(np.abs(d).max())):
        # No spread (up to rounding): the interval is the point, the test is degenerate.
        m = float(d.mean())
        return PairedDifference(m, m, m, 1.0 if m == 0 else 0.0, len(d))
    res = st.ttest_rel(x, y)
    ci = res.confidence_interval(CONFIDENCE)
    return PairedDifference(
        float(d.mean()), float(ci.low), float(ci.high), float(res.pvalue), len(d)
    )


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values over all comparisons of a report (statsmodels
    ``multipletests``); NaNs (comparisons without a test) pass through and do not count."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], alpha=1 - CONFIDENCE, method="holm")[1]
    return out
