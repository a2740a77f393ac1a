"""The names of ``coopo train --preset NAME`` and what each runs, importable without JAX (for
``--help``); the configs themselves are :data:`coopo.config.PRESETS`."""

from __future__ import annotations

PRESET_HELP: dict[str, str] = {
    "default": (
        "what `coopo train` runs with no options: COOPO on a 50k-transition halfcheetah-medium "
        "dataset built from the shipped medium policy, 2 cycles of 5k offline updates + 6k "
        "online env steps"
    ),
    "full": (
        "the full-strength single run: 3 cycles of 20k offline updates + 20k online env steps "
        "on a 100k-transition random-policy Hopper dataset"
    ),
    "smoke": "a smoke test: tiny networks and budgets on InvertedPendulum (CI)",
    "awac-ft": "AWAC fine-tuning: AWAC-KL offline, then online, switched once",
    "iql-ft": "IQL fine-tuning: IQL offline, then online, switched once",
    "calql-ft": "Cal-QL fine-tuning, with the reference 10 sampled actions per source",
    "rlpd": "RLPD as published: online from scratch on 50/50 dataset and online batches, UTD 20",
    "d4rl": "the offline-to-online literature's scale on D4RL hopper-medium: 10 cycles of 100k + 100k, 5 seeds",
}
"""Preset name -> one line saying what it runs."""

PRESET_NAMES: tuple[str, ...] = tuple(PRESET_HELP)
