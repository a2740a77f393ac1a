"""A dataset card: size, episodes, returns, reference scores and provenance (``coopo data info``)."""

from __future__ import annotations

from coopo.data.dataset import Dataset
from coopo.evaluation import normalized_score, reference_scores


def dataset_card(ds: Dataset) -> dict[str, object]:
    m = ds.metadata
    rets = ds.episode_returns()
    ref_min, ref_max = (
        reference_scores(m.env_id, m.ref_min_score, m.ref_max_score)
        if m.env_id
        else (m.ref_min_score, m.ref_max_score)
    )
    card: dict[str, object] = {
        "env_id": m.env_id or "(unknown)",
        "transitions": ds.size,
        "episodes": len(rets),
        "obs_dim": ds.obs_dim,
        "act_dim": ds.act_dim,
        "terminations": int(ds.terminated.sum()),
        "return_mean": round(float(rets.mean()), 2),
        "return_min": round(float(rets.min()), 2),
        "return_max": round(float(rets.max()), 2),
        "ref_min_score": ref_min,
        "ref_max_score": ref_max,
        "source": m.source,
        "hash": ds.content_hash(),
    }
    if ref_min is not None and ref_max is not None:
        norm = normalized_score(rets, ref_min, ref_max)
        card.update(
            normalized_mean=round(float(norm.mean()), 2),
            normalized_min=round(float(norm.min()), 2),
            normalized_max=round(float(norm.max()), 2),
        )
    card.update({k: v for k, v in m.extra.items() if v is not None})
    return card
