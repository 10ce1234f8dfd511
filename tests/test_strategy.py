"""Distribution strategies, trained for real in subprocesses (devices and TF_CONFIG must be set
before TensorFlow starts)."""
import glob
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

import synthetic_imdb
import transformed_data
from trainer import callbacks, config, strategy

WORKER = os.path.join(os.path.dirname(__file__), "strategy_worker.py")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("strategy_data"))
    raw = [{"review": text.encode(), "label": int("/pos/" in path), "rating": 1}
           for path, text in synthetic_imdb.reviews(per_folder=20) if "/train/" in path
           and ("/pos/" in path or "/neg/" in path)]
    rows, _ = transformed_data.analyze_and_transform(
        raw, config.TrainerConfig(vocab_size=50, sequence_length=16), workdir)
    # 33 of 40 for training: two workers' shards of 17 and 16 reviews make 3 and 2 batches of 8,
    # so multi-worker training must cope with one worker running out first.
    transformed_data.write_examples(rows[:33], os.path.join(workdir, "train.gz"))
    transformed_data.write_examples(rows[33:], os.path.join(workdir, "eval.gz"))
    return workdir


# Under each strategy eval scores, and early stopping keeps, either the weights as trained or
# their moving averages (swapped in and out of the replicas' variables).
WEIGHTS_FLAGS = {"as_trained": [], "averaged": ["--weight-averaging", "0.9"]}
EITHER_WEIGHTS = pytest.mark.parametrize("weights", list(WEIGHTS_FLAGS))
AVERAGING_LOGGED = "weights averaged over steps (momentum 0.9)"


def _worker(prepared, name, *extra):
    serving, run = (os.path.join(prepared, name, part) for part in ("serving", "run"))
    command = [sys.executable, WORKER, "--data", prepared, "--serving-dir", serving,
               "--run-dir", run, *extra]
    return command, serving, run


@pytest.mark.e2e  # a training job in subprocesses
@EITHER_WEIGHTS
def test_mirrored_over_two_logical_cpus_trains_and_saves(prepared, weights):
    command, serving, run = _worker(prepared, f"mirrored_{weights}", "--strategy", "mirrored",
                                    "--logical-cpus", "2", *WEIGHTS_FLAGS[weights])
    process = subprocess.run(command, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert process.returncode == 0, process.stderr
    assert (AVERAGING_LOGGED in process.stderr) == (weights == "averaged")
    assert "mirrored (MirroredStrategy): 2 replica(s) in sync" in process.stderr
    assert "global batch 16" in process.stderr  # 8 per replica x 2 replicas
    assert os.path.exists(os.path.join(serving, "saved_model.pb"))
    history = json.load(open(os.path.join(run, "history.json")))
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    stored = json.load(open(os.path.join(serving, "assets.extra", "trainer_config.json")))
    assert stored["strategy"] == "mirrored" and stored["batch_size"] == 8
    # The restored model scores all of eval, not one replica's share, to fit its threshold.
    calibrated = json.load(open(os.path.join(serving, "assets.extra", "calibration.json")))
    assert calibrated["eval_reviews"] == 7 and calibrated["decision_threshold"] == 0.5
    assert "decision threshold kept at 0.5: 7 eval reviews" in process.stderr
    assert os.listdir(os.path.join(run, "tensorboard"))


def _moving_averages(steps, momentum):
    """Keras' update after every step, computed here: the first step's weights, then
    momentum x average + (1 - momentum) x weights."""
    averages = [steps[0]]
    for weights in steps[1:]:
        averages.append([momentum * average + (1 - momentum) * weight
                         for average, weight in zip(averages[-1], weights)])
    return averages


def _kept_weights(prepared, serving):
    """The weights the export keeps for the next run's warm start, as a model of this size."""
    from trainer import artifacts, models
    stored = config.TrainerConfig.from_dict(json.load(open(
        os.path.join(serving, "assets.extra", "trainer_config.json"))))
    saved = os.path.join(serving, artifacts.WARM_START_DIR)
    words = open(os.path.join(saved, artifacts.VOCABULARY_FILE)).read().splitlines()
    model = models.build(stored, len(words) + stored.oov_buckets + 1)
    model.load_weights(os.path.join(saved, artifacts.WEIGHTS_FILE))
    return [variable.numpy() for variable in model.trainable_variables]


def _same(weights, others):
    return all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(weights, others))


@pytest.mark.e2e  # a training job in subprocesses
def test_mirrored_over_two_replicas_keeps_the_averaged_weights_of_the_best_epoch(prepared):
    record = os.path.join(prepared, "mirrored_steps.pkl")
    command, serving, run = _worker(prepared, "mirrored_kept", "--strategy", "mirrored",
                                    "--logical-cpus", "2", "--epochs", "3",
                                    "--weight-averaging", "0.9", "--record-steps", record)
    process = subprocess.run(command, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert process.returncode == 0, process.stderr
    with open(record, "rb") as f:
        steps = pickle.load(f)
    # Both replicas hold the same weights after every step; the first replica's stand for both.
    for step in steps:
        for replicas in step:
            assert len(replicas) == 2 and np.array_equal(replicas[0], replicas[1])
    trained = [[replicas[0] for replicas in step] for step in steps]
    averaged = _moving_averages(trained, 0.9)
    history = json.load(open(os.path.join(run, "history.json")))
    steps_per_epoch = len(steps) // len(history["loss"])
    assert steps_per_epoch * len(history["loss"]) == len(steps) == 9  # 33 reviews, batches of 16
    epoch_ends = range(steps_per_epoch - 1, len(steps), steps_per_epoch)
    kept = _kept_weights(prepared, serving)
    assert not any(_same(kept, trained[end]) for end in epoch_ends)
    [kept_epoch] = [epoch for epoch, end in enumerate(epoch_ends) if _same(kept, averaged[end])]
    assert history["val_accuracy"][kept_epoch] == max(history["val_accuracy"])


CRASHED = 75  # strategy_worker's exit status when told to crash


@pytest.mark.e2e  # a training job in subprocesses
def test_an_interrupted_trainer_resumes_from_its_backup_with_the_whole_history(prepared):
    # TFX's layout: every Trainer execution gets a new run dir under <root>/Trainer/model_run.
    trainer_root = os.path.join(prepared, "resume", "Trainer")

    def execution(number: str):
        return [sys.executable, WORKER, "--data", prepared, "--strategy", "default",
                "--epochs", "4", "--serving-dir", os.path.join(trainer_root, "model", number),
                "--run-dir", os.path.join(trainer_root, "model_run", number)]

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    crashed = subprocess.run(execution("1") + ["--crash-after-epoch", "2"], capture_output=True,
                             text=True, timeout=300, env=env)
    assert crashed.returncode == CRASHED, crashed.stderr
    [backup] = glob.glob(os.path.join(trainer_root, "backups", "*"))
    carried = json.load(open(os.path.join(backup, "history.json")))
    assert len(carried["loss"]) == 2 and os.path.exists(os.path.join(backup, "latest.weights.h5"))

    resumed = subprocess.run(execution("2"), capture_output=True, text=True, timeout=300, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch 2 from the backup in {backup}" in resumed.stderr
    epochs_trained = re.findall(r"epoch (\d)/4", resumed.stderr)
    assert epochs_trained == ["3", "4"]
    history = json.load(open(os.path.join(trainer_root, "model_run", "2", "history.json")))
    assert len(history["loss"]) == len(history["epoch_seconds"]) == 4
    assert history["loss"][:2] == carried["loss"]
    assert not os.path.exists(backup)  # removed once training finished
    assert os.path.exists(os.path.join(trainer_root, "model", "2", "saved_model.pb"))


def test_backups_are_keyed_by_settings_and_inputs():
    run_dir = "/root/Trainer/model_run/7"
    base = callbacks.backup_dir(run_dir, config.TrainerConfig(), ["train-1", "eval-1"])
    assert base.startswith("/root/Trainer/backups/")
    assert callbacks.backup_dir("/root/Trainer/model_run/8", config.TrainerConfig(),
                                ["eval-1", "train-1"]) == base
    longer = config.TrainerConfig(epochs=6)
    assert callbacks.backup_dir(run_dir, longer, ["train-1", "eval-1"]) != base
    assert callbacks.backup_dir(run_dir, config.TrainerConfig(), ["train-2", "eval-1"]) != base


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e  # a training job in subprocesses
@EITHER_WEIGHTS
def test_multi_worker_trains_two_workers_in_sync_and_only_the_chief_writes(prepared, weights):
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    workers = []
    for index in range(2):
        command, serving, run = _worker(prepared, f"worker{index}_{weights}",
                                        "--strategy", "multi_worker", *WEIGHTS_FLAGS[weights])
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, env={**os.environ, "TF_CONFIG": tf_config,
                                                   "TF_CPP_MIN_LOG_LEVEL": "3"})
        workers.append((process, serving, run))
    try:
        logs = [process.communicate(timeout=300)[1] for process, _, _ in workers]
    finally:
        for process, _, _ in workers:
            process.kill()
    for (process, _, _), log in zip(workers, logs):
        assert process.returncode == 0, log
        assert "multi_worker (CollectiveAllReduceStrategy): 2 replica(s) in sync" in log
        assert "global batch 16" in log  # 8 per replica x 2 workers
        assert (AVERAGING_LOGGED in log) == (weights == "averaged")
    assert "task worker:0" in logs[0] and "task worker:1" in logs[1]
    # The metrics are all-reduced: both workers log the same epochs with the same numbers.
    epoch_lines = [[line.split(": ", 2)[-1] for line in log.splitlines() if "epoch " in line]
                   for log in logs]
    assert len(epoch_lines[0]) == 2 and epoch_lines[0] == epoch_lines[1]
    assert all("on 7 reviews" in log for log in logs)  # each worker scores all of eval

    (_, chief_serving, chief_run), (_, worker_serving, worker_run) = workers
    assert os.path.exists(os.path.join(chief_serving, "saved_model.pb"))
    assert not os.path.exists(worker_serving) and not os.path.exists(worker_run)
    history = json.load(open(os.path.join(chief_run, "history.json")))
    assert set(history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"}
    assert len(history["val_loss"]) == 2
    # history.json holds the all-reduced numbers both workers logged for the last epoch.
    assert f"val_accuracy={history['val_accuracy'][-1]:.4f}" in epoch_lines[0][-1]
    # The chief's export scores raw text and serialized examples alike.
    reviews = ["a wonderful film", "dull and awful"]
    model = tf.saved_model.load(chief_serving)
    raw = model.signatures["serving_raw_text"](review=tf.constant(reviews))["probabilities"]
    examples = [tf.train.Example(features=tf.train.Features(feature={"review": tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[r.encode()]))})).SerializeToString()
        for r in reviews]
    serialized = model.signatures["serving_default"](examples=tf.constant(examples))
    assert raw.shape == (2, 1)
    assert raw.numpy().tolist() == serialized["probabilities"].numpy().tolist()


def test_multi_worker_without_tf_config_fails_fast_and_says_why(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(strategy.StrategyError, match="needs TF_CONFIG naming the cluster"):
        strategy.create("multi_worker")


def test_unknown_strategy():
    with pytest.raises(strategy.StrategyError, match="unknown strategy 'gpu'"):
        strategy.create("gpu")
