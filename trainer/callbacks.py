"""What runs beside Keras' training loop: the epoch log and its history, per-epoch backups that
let an interrupted Trainer resume, and early stopping that keeps the best epoch."""
import hashlib
import json
import logging
import math
import os
import time
from typing import Dict, List, Optional

import keras
import tensorflow as tf

from trainer import artifacts, config

_log = logging.getLogger(__name__)

History = Dict[str, List[float]]


class EpochLog(keras.callbacks.Callback):
    """One readable line per epoch in the run's log, whatever Keras' own verbosity, and the record
    of every epoch (train and eval metrics, wall seconds) that becomes history.json. An epoch
    that runs longer than `progress_seconds` (a language model's on a CPU takes many minutes) also
    logs how far it got, that often."""

    def __init__(self, epochs: int, progress_seconds: float = 60.0):
        super().__init__()
        self._epochs = epochs
        self._progress_seconds = progress_seconds
        self._epoch = 0
        self._started = self._reported = 0.0
        # The batches of the last whole epoch: how many this one will take (the input pipeline
        # does not know in advance: length buckets batch by what comes).
        self._batches_seen = self._batches_per_epoch = 0
        self.history: History = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._started = self._reported = time.monotonic()
        self._batches_seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches_seen = batch + 1
        now = time.monotonic()
        if now - self._reported < self._progress_seconds:
            return
        self._reported = now
        of = f" of {self._batches_per_epoch}" if self._batches_per_epoch else ""
        loss = f", loss={float(logs['loss']):.4f}" if logs and "loss" in logs else ""
        _log.info("epoch %d/%d: batch %d%s (%.0f s)%s", self._epoch + 1, self._epochs,
                  batch + 1, of, now - self._started, loss)

    def on_epoch_end(self, epoch, logs=None):
        self._batches_per_epoch = self._batches_seen
        seconds = round(time.monotonic() - self._started, 2)
        for key, value in {**(logs or {}), "epoch_seconds": seconds}.items():
            self.history.setdefault(key, []).append(float(value))
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted((logs or {}).items()))
        _log.info("epoch %d/%d (%.1f s): %s", epoch + 1, self._epochs, seconds, metrics)


def write_history(run_dir: str, history: History) -> None:
    tf.io.gfile.makedirs(run_dir)
    _write_json(os.path.join(run_dir, artifacts.HISTORY_FILE), history, indent=2)


class TrainingDiverged(RuntimeError):
    """The loss stopped being a number: the model's weights are lost to overflow."""


class StopOnDivergence(keras.callbacks.Callback):
    """Fails the Trainer at the end of an epoch whose train or eval loss is NaN or infinite, before
    that epoch is backed up or anything exported: a NaN model would otherwise be exported and fail
    later inside TFMA with a message about histograms."""

    def __init__(self, trainer_config: config.TrainerConfig):
        super().__init__()
        self._learning_rate = trainer_config.learning_rate

    def on_epoch_end(self, epoch, logs=None):
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                raise TrainingDiverged(
                    f"training diverged: {key} is {float(value)} after epoch {epoch + 1}; lower "
                    f"trainer.learning_rate ({self._learning_rate:g}) or set trainer.clipnorm")


def _write_atomically(path: str, write) -> None:
    """`write(partial_path)`, then a rename into `path`: a reader sees the old file or the new
    one, never half of one. The partial name keeps `path`'s ending (Keras checks it)."""
    directory, name = os.path.split(path)
    partial = os.path.join(directory, ".partial-" + name)
    write(partial)
    tf.io.gfile.rename(partial, path, overwrite=True)


def _write_json(path: str, value, indent: Optional[int] = None) -> None:
    def write(partial):
        with tf.io.gfile.GFile(partial, "w") as f:
            json.dump(value, f, indent=indent)
    _write_atomically(path, write)


class EpochBackup(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore (weights, optimizer state and epoch after every epoch; restored at
    the start, deleted once training ends) plus the epochs' history, so a Trainer that was
    interrupted resumes where it stopped and its history.json still covers every epoch.
    Every worker restores; only the chief writes.

    Each file is written under another name and renamed into place (Keras overwrites in place,
    so a kill mid-write left a backup that no later run could read). A backup that cannot be
    read all the same is set aside with a warning and training starts over: it never blocks
    the run."""

    def __init__(self, backup_dir: str, epoch_log: EpochLog, chief: bool):
        super().__init__(backup_dir, double_checkpoint=False)
        self._epoch_log = epoch_log
        self._chief = chief

    def on_train_begin(self, logs=None):
        if not self.model.optimizer.built:  # as Keras does before restoring; fit would anyway
            self.model.optimizer.build(self.model.trainable_variables)
        variables = self.model.weights + self.model.optimizer.variables
        initial = [variable.numpy() for variable in variables]
        try:
            super().on_train_begin(logs)
            history = os.path.join(self.backup_dir, artifacts.HISTORY_FILE)
            if self.model._initial_epoch and tf.io.gfile.exists(history):
                with tf.io.gfile.GFile(history) as f:
                    self._epoch_log.history = json.load(f)
        except Exception as e:  # noqa: BLE001  (whatever is wrong with it, train without it)
            for variable, value in zip(variables, initial):
                variable.assign(value)
            self.model._initial_epoch = 0
            self._set_aside(e)
            return
        if self.model._initial_epoch:
            _log.warning("resuming after epoch %d from the backup in %s",
                         self.model._initial_epoch, self.backup_dir)

    def _set_aside(self, error: Exception) -> None:
        unreadable = f"{self.backup_dir}.unreadable-{int(time.time())}"
        if self._chief:
            tf.io.gfile.rename(self.backup_dir, unreadable)
        _log.warning("the backup in %s cannot be read (%s: %s); set aside as %s, training "
                     "starts over", self.backup_dir, type(error).__name__,
                     str(error).splitlines()[0] if str(error) else "", unreadable)

    def _save_model(self):
        tf.io.gfile.makedirs(self.backup_dir)
        _write_atomically(self._weights_path,
                          lambda partial: self.model.save_weights(partial, overwrite=True))
        _write_json(self._training_metadata_path,
                    {"epoch": self._current_epoch, "batch": self._last_batch_seen})

    def on_epoch_end(self, epoch, logs=None):
        if self._chief:
            super().on_epoch_end(epoch, logs)
            _write_json(os.path.join(self.backup_dir, artifacts.HISTORY_FILE),
                        self._epoch_log.history)

    def on_train_end(self, logs=None):
        if self._chief:
            super().on_train_end(logs)


def backup_dir(run_dir: str, trainer_config: config.TrainerConfig, inputs: List[str]) -> str:
    """A backup location that outlives the execution: TFX gives every Trainer execution a new
    run dir (<pipeline root>/Trainer/model_run/<execution id>), so a backup beside it would never
    be found again. Keyed by the settings and input files, so only a re-run of the same training
    resumes from it."""
    training = {"settings": trainer_config.to_dict(), "inputs": sorted(inputs)}
    key = hashlib.sha256(json.dumps(training, sort_keys=True).encode()).hexdigest()[:16]
    trainer_root = os.path.dirname(os.path.dirname(os.path.normpath(run_dir)))
    return os.path.join(trainer_root, "backups", key)


def keep_best_epoch(trainer_config: config.TrainerConfig,
                    early_stopping_metric: str) -> List[keras.callbacks.Callback]:
    """Early stopping on `early_stopping_metric` of eval, the best epoch's weights restored at the
    end. With weight_averaging, eval scores the averaged weights and those are what is kept:
    Keras' SwapEMAWeights swaps the averages in for eval and again at each epoch's end, before
    early stopping takes its copy, and out at the next epoch's start."""
    stopping = keras.callbacks.EarlyStopping(
        monitor=f"val_{early_stopping_metric}",
        mode=config.EARLY_STOPPING_MODES[early_stopping_metric],
        patience=trainer_config.early_stopping_patience, restore_best_weights=True)
    if trainer_config.weight_averaging is None:
        return [stopping]
    return [keras.callbacks.SwapEMAWeights(swap_on_epoch=True), stopping]
