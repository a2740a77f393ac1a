"""A run directory's files: what a run records when it starts and ends, and reading them back.

``config.json`` (the resolved config, enough to rebuild the run), ``results.json`` (the final
evaluation per seed and the budgets spent), and what a restart from the beginning moves aside.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coopo import jsonfile
from coopo.config import ConfigError, TrainConfig, config_from_dict, validate_config

if TYPE_CHECKING:
    from coopo.checkpoint import Counters
    from coopo.evaluation import Evaluation


@dataclass
class RunResult:
    run_dir: Path
    finished: bool
    final_scores: dict[int, float] = field(default_factory=dict)  # seed -> normalised score
    final_returns: dict[int, float] = field(default_factory=dict)
    data_level: float | None = None  # the dataset's mean episode return, on the scores' scale


def write_results(run_dir: Path, seeds: list[int], last: Evaluation, counters: Counters) -> None:
    """RUN_DIR/results.json: the final evaluation per seed and the budgets spent."""
    summary = {
        "final_normalized_score": dict(zip(map(str, seeds), map(float, last.scores), strict=True)),
        "final_return": dict(zip(map(str, seeds), map(float, last.returns), strict=True)),
        "env_steps": counters.env_steps,
        "grad_steps": counters.grad_steps,
    }
    # strict JSON: a score without reference scores (NaN) is written as null
    (run_dir / "results.json").write_text(jsonfile.dumps(summary, indent=1))


DATASET_RESOLVED = "dataset_resolved"
"""config.json's record of the dataset's absolute path, next to ``dataset`` as typed."""
RUN_OUTPUTS = (
    "metrics.jsonl",
    "tb",
    "checkpoints",
    "policy",
    "results.json",
    "wandb.json",
    "wandb",
)
"""What a run writes as it trains: a restart from the beginning moves these aside. The rest
(config.json, dataset.json, versions.json, provenance.json, resume-log.jsonl, the lock, and
files of others such as a bench's bench.json and log.txt) stays in place."""


def read_run_config(run_dir: Path, say: Callable[[str], None]) -> TrainConfig:
    """``RUN_DIR/config.json`` as a validated config; an error names every problem: the file,
    the field, the value and what is allowed. The dataset is the path as typed if it exists
    (a relative one from the working directory), else the absolute path recorded at the start
    (``dataset_resolved``), so a run resumes from any working directory."""
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{run_dir} has no config.json: not a coopo run directory")
    try:
        raw = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{cfg_path} is not readable JSON ({e})") from e
    resolved = raw.pop(DATASET_RESOLVED, None) if isinstance(raw, dict) else None
    cfg = config_from_dict(raw, str(cfg_path))
    try:
        validate_config(cfg)
    except ConfigError as e:
        raise ConfigError(f"{cfg_path}: {e}") from e
    if isinstance(resolved, str) and resolved != cfg.dataset:
        typed = Path(cfg.dataset).expanduser()
        if typed.exists():  # as typed (or as edited since) comes first
            if typed.resolve() != Path(resolved):
                say(
                    f"dataset: {cfg.dataset} as typed, from {Path.cwd()} ({typed.resolve()}; "
                    f"the run recorded {resolved})"
                )
        elif Path(resolved).exists():
            say(
                f"dataset: {resolved}, its recorded absolute path ({cfg.dataset} as typed is "
                f"not found from {Path.cwd()})"
            )
            cfg = dataclasses.replace(cfg, dataset=resolved)
    return cfg


def read_results(run_dir: Path) -> RunResult:
    """A finished run's results.json as a :class:`RunResult` (null scores as NaN)."""
    path = run_dir / "results.json"

    def values(res: dict[str, Any], key: str) -> dict[int, float]:
        return {int(s): math.nan if v is None else float(v) for s, v in res[key].items()}

    try:
        res = json.loads(path.read_text())
        return RunResult(
            run_dir, True, values(res, "final_normalized_score"), values(res, "final_return")
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(
            f"{path} is not readable ({e!r}): the run has finished, but its results are damaged "
            "(metrics.jsonl and policy/ hold its final evaluation and policy)"
        ) from e


def set_aside(run_dir: Path) -> Path:
    """Move what a run wrote (:data:`RUN_OUTPUTS`) into ``RUN_DIR/restart-<time>``."""
    aside = run_dir / f"restart-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 0
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{aside.name.split('.')[0]}.{n}")
    aside.mkdir()
    for name in RUN_OUTPUTS:
        if (run_dir / name).exists():
            os.replace(run_dir / name, aside / name)
    return aside


def record_start(run_dir: Path, cfg: TrainConfig, dataset_info: dict[str, Any] | None) -> None:
    """``config.json`` (with the dataset's absolute path, when it is a file or directory, so a
    resume finds it from anywhere) and ``dataset.json`` of a new run."""
    from coopo.config import config_to_dict

    resolved = {**config_to_dict(cfg), "run_dir": str(run_dir)}
    dataset_path = Path(cfg.dataset).expanduser()
    if dataset_path.exists():
        resolved[DATASET_RESOLVED] = str(dataset_path.resolve())
    (run_dir / "config.json").write_text(jsonfile.dumps(resolved, indent=1))
    (run_dir / "dataset.json").write_text(jsonfile.dumps(dataset_info, indent=1, default=str))
