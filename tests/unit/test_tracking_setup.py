"""``setup_mlflow`` on a store that other processes share (a tracking server, several tuning
machines): an experiment created by another process between our look-up and our creation is
used, not an error. A real SQLite store; the other process's creation is replayed at exactly
that moment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from experiments.config import MlflowConfig
from experiments.tracking import setup_mlflow


def test_an_experiment_created_meanwhile_by_another_process_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    other_machine = MlflowClient(uri)
    created: list[str] = []
    look_up = mlflow.get_experiment_by_name

    def look_up_then_lose_the_race(name: str) -> Any:
        found = look_up(name)
        if found is None and not created:  # the other process creates it right after
            created.append(other_machine.create_experiment(name))
        return found

    monkeypatch.setattr(mlflow, "get_experiment_by_name", look_up_then_lose_the_race)
    experiment_id = setup_mlflow(MlflowConfig(experiment="shared"), tmp_path)
    assert created and experiment_id == created[0]
    assert len(other_machine.search_experiments(filter_string="name = 'shared'")) == 1
