"""The online phase: env collection and episode bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coopo.runner import Trainer

from ..conftest import cfg


@pytest.mark.slow
def test_online_collection_keeps_terminated_and_truncated_apart(tmp_path: Path):
    c = cfg(tmp_path, env_kwargs={"max_episode_steps": "3"}, seeds=(0,))
    trainer = Trainer(c, tmp_path / "run")
    try:
        from coopo.schedule import Phase

        state = trainer.online_phase(trainer.init_state(), Phase("online", 100, 0), 0)
    finally:
        trainer.close()
    buf = state.buffer
    n = int(buf.size[0])
    te = np.asarray(buf.data.terminated[0, :n])
    tr = np.asarray(buf.data.truncated[0, :n])
    # time-limit truncations are recorded without termination (both can hold on one step)
    assert n == 100 and np.any((tr == 1) & (te == 0))
    ends = np.flatnonzero(te + tr)
    assert np.all(np.diff(np.concatenate([[-1], ends])) <= 3)  # episodes never exceed the limit
    obs = np.asarray(buf.data.observations[0, :n])
    nxt = np.asarray(buf.data.next_observations[0, :n])
    inner = (te + tr)[:-1] == 0
    np.testing.assert_array_equal(nxt[:-1][inner], obs[1:][inner])  # bit for bit
