"""Distribution strategies, trained for real in subprocesses (devices and TF_CONFIG must be set
before TensorFlow starts)."""
import json
import os
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import synthetic_imdb
import transformed_data
from trainer import config, strategy

WORKER = os.path.join(os.path.dirname(__file__), "strategy_worker.py")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("strategy_data"))
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=20) if "/train/" in path
           and ("/pos/" in path or "/neg/" in path)]
    rows, _ = transformed_data.analyze_and_transform(
        raw, config.TrainerConfig(vocab_size=50, sequence_length=16), workdir)
    transformed_data.write_examples(rows[: len(rows) * 3 // 4],
                                    os.path.join(workdir, "train.gz"))
    transformed_data.write_examples(rows[len(rows) * 3 // 4:], os.path.join(workdir, "eval.gz"))
    return workdir


def _worker(prepared, name, *extra):
    serving, run = (os.path.join(prepared, name, part) for part in ("serving", "run"))
    command = [sys.executable, WORKER, "--data", prepared, "--serving-dir", serving,
               "--run-dir", run, *extra]
    return command, serving, run


def test_mirrored_over_two_logical_cpus_trains_and_saves(prepared):
    command, serving, run = _worker(prepared, "mirrored", "--strategy", "mirrored",
                                    "--logical-cpus", "2")
    process = subprocess.run(command, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert process.returncode == 0, process.stderr
    assert "MirroredStrategy: 2 replica(s) in sync" in process.stderr
    assert "global batch 16" in process.stderr  # 8 per replica x 2 replicas
    assert os.path.exists(os.path.join(serving, "saved_model.pb"))
    history = json.load(open(os.path.join(run, "history.json")))
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    stored = json.load(open(os.path.join(serving, "assets.extra", "trainer_config.json")))
    assert stored["strategy"] == "mirrored" and stored["batch_size"] == 8
    assert os.listdir(os.path.join(run, "tensorboard"))


def test_tpu_without_a_tpu_fails_fast_and_says_why(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    started = time.monotonic()
    with pytest.raises(strategy.StrategyError, match="strategy 'tpu' needs a reachable TPU"):
        strategy.create("tpu")
    assert time.monotonic() - started < 30


def test_auto_on_a_cpu_only_machine_is_the_default_strategy(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    chosen = strategy.create("auto")
    assert chosen is tf.distribute.get_strategy() and chosen.num_replicas_in_sync == 1


def test_multi_worker_is_refused_at_once_with_the_reason():
    with pytest.raises(strategy.StrategyError, match="keras-team/keras#20585"):
        strategy.create("multi_worker")


def test_unknown_strategy():
    with pytest.raises(strategy.StrategyError, match="unknown strategy 'gpu'"):
        strategy.create("gpu")
