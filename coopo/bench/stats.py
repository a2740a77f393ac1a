"""Statistics of a results directory: per-run curve measures, and their confidence intervals.

Per-run measures are plain functions of one seed's evaluation curve (the rows of its
``metrics.jsonl`` carrying ``eval/normalized_score``):

- :func:`final_score`: the score of the last evaluation;
- :func:`interactions_to_target`: the first online env-step count at which the score reached a
  target (``inf`` if it never did);
- :func:`forgetting`: for every offline->online switch, the end-of-offline score minus the
  minimum score during the following online phase (positive = forgot).

Across seeds, intervals are rliable's stratified bootstrap (runs resampled within each task,
percentile intervals), and comparisons of two methods use ``arch``'s independent-samples
bootstrap; nothing here hand-rolls a resampler.
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


def final_score(curve: Curve) -> float:
    return float(curve.score[-1]) if len(curve.score) else float("nan")


def interactions_to_target(curve: Curve, target: float) -> float:
    """Online env steps at the first evaluation scoring >= ``target`` (inf if none did).

    An evaluation at the end of an offline phase counts at the env steps spent so far, so a
    policy that already meets the target after pre-training needs 0 interactions.
    """
    hit = np.nonzero(curve.score >= target)[0]
    return float(curve.env_steps[hit[0]]) if len(hit) else float("inf")


def forgetting(curve: Curve) -> list[float]:
    """Score drop at each offline->online switch: end-of-offline score minus the minimum over
    the following online phase's evaluations (its end included)."""
    drops = []
    for i in range(len(curve.score)):
        if curve.phase[i] != "offline" or not curve.phase_end[i]:
            continue
        j = i + 1
        online = []
        while j < len(curve.score) and curve.phase[j] == "online":
            online.append(curve.score[j])
            if curve.phase_end[j]:
                break
            j += 1
        if online:
            drops.append(float(curve.score[i] - min(online)))
    return drops


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
