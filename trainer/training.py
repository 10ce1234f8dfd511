"""TFX Trainer `run_fn`: trains the configured variant on transformed examples and exports a
SavedModel that embeds the tf.Transform graph, so it scores raw review text."""
import hashlib
import json
import logging
import os
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer import calibration, config, distributed_loop, models, strategy as strategies
from trainer.distributed_loop import DatasetFn

_log = logging.getLogger(__name__)

# Serialized tf.Examples -> (tokens, labels).
BatchParser = Callable[[tf.Tensor], Tuple[tf.Tensor, tf.Tensor]]
HISTORY_FILE = "history.json"
# Travels with the SavedModel (TF Serving ignores assets.extra/): what the model was trained with.
CONFIG_ASSET = os.path.join("assets.extra", "trainer_config.json")
# Beside it: the decision threshold fitted on eval, and eval accuracy before and after.
CALIBRATION_ASSET = os.path.join("assets.extra", "calibration.json")


def length_bounds(sequence_length: int, buckets: int) -> List[int]:
    """Batch lengths when bucketing: `buckets` equal steps up to sequence_length."""
    return sorted({max(1, sequence_length * (i + 1) // buckets) for i in range(buckets)})


def _trim_to_bucket(tokens: tf.Tensor, labels: tf.Tensor, bounds: tf.Tensor):
    """Cuts a batch's trailing padding down to the smallest bound that holds its longest review:
    padding after a review's last token changes no output, and a few fixed lengths keep
    retracing to a minimum."""
    longest = tf.reduce_max(models.real_lengths(tokens))
    length = tf.gather(bounds, tf.searchsorted(bounds, tf.reshape(longest, [1]))[0])
    return tokens[:, :length], labels


def transformed_examples(tf_transform_output: tft.TFTransformOutput) -> BatchParser:
    """Parses Transform's output: (tokens, labels)."""
    spec = tf_transform_output.transformed_feature_spec()

    def parse(records):
        batch = tf.io.parse_example(records, spec)
        return batch[config.TOKENS_KEY], batch[config.LABEL_KEY]
    return parse


def dataset(file_patterns: List[str], parse_batch: BatchParser,
            trainer_config: config.TrainerConfig, batch_size: int, shuffle: bool,
            input_context: Optional[tf.distribute.InputContext] = None) -> tf.data.Dataset:
    """Batches of (tokens, labels) from `parse_batch` of the GZIP'd TFRecords. With an
    input_context (several replicas), this input pipeline's shard of the examples in per-replica
    batches; without, all of them in global batches, which Model.fit splits over the replicas."""
    files = sorted(f for pattern in file_patterns for f in tf.io.gfile.glob(pattern))
    if not files:
        raise ValueError(f"no examples match {file_patterns}")
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if input_context:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        records = records.shard(input_context.num_input_pipelines,
                                input_context.input_pipeline_id)
    if shuffle:
        records = records.shuffle(trainer_config.shuffle_buffer, seed=trainer_config.seed,
                                  reshuffle_each_iteration=True)
    batches = records.batch(batch_size).map(parse_batch, num_parallel_calls=tf.data.AUTOTUNE)
    if trainer_config.batch_length_buckets > 1:
        # Reviews of similar length batch together, so most batches are far shorter than
        # sequence_length (41% of IMDB reviews fill it, the median is about 170 tokens).
        bounds = length_bounds(trainer_config.sequence_length,
                               trainer_config.batch_length_buckets)
        batches = batches.unbatch().bucket_by_sequence_length(
            lambda tokens, label: models.real_lengths(tokens),
            bucket_boundaries=[b + 1 for b in bounds[:-1]],
            bucket_batch_sizes=[batch_size] * len(bounds), no_padding=True)
        batches = batches.map(
            lambda tokens, labels: _trim_to_bucket(tokens, labels, tf.constant(bounds)))
    return batches.prefetch(tf.data.AUTOTUNE).with_options(without_autotune_thread())


def without_autotune_thread() -> tf.data.Options:
    """tf.data options under which deleting an iterator does not wait. tf.data's autotuning
    thread sleeps between rounds, up to 60 s, and deleting an iterator waits for it to wake:
    Keras deletes the last eval iterator at each evaluation and the train iterator at each
    epoch's end, which left a 2-core Trainer idle for up to 40 s an epoch (docs/BENCHMARKS.md,
    "Idle between epochs"). Without the thread, AUTOTUNE takes tf.data's fixed defaults."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


class ServingModule(tf.Module):
    """What the Pusher ships: the trained model behind the tf.Transform graph, two signatures,
    its score shifted so that 0.5 is the decision threshold (trainer/calibration.py)."""

    def __init__(self, model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                 threshold: float):
        super().__init__()
        self.model = model
        self.transform_layer = tf_transform_output.transform_features_layer()
        self.threshold = threshold

    def _score(self, reviews: tf.Tensor):
        transformed = self.transform_layer({config.REVIEW_KEY: reviews})
        probabilities = self.model(transformed[config.TOKENS_KEY], training=False)
        return {config.PREDICTION_KEY: calibration.centre(probabilities, self.threshold)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, serialized_examples):
        """Serialized tf.Examples carrying the raw `review` feature -> probability of positive."""
        features = tf.io.parse_example(
            serialized_examples,
            {config.REVIEW_KEY: tf.io.FixedLenFeature([], tf.string, default_value="")})
        return self._score(features[config.REVIEW_KEY])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="review")])
    def serve_text(self, reviews):
        """A batch of raw review strings -> probability of positive."""
        return self._score(reviews)


RAW_TEXT_SIGNATURE = "serving_raw_text"


def export_serving_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                         export_dir: str, threshold: float = calibration.NEUTRAL) -> None:
    module = ServingModule(model, tf_transform_output, threshold)
    signatures = {
        "serving_default": module.serve_examples.get_concrete_function(),
        RAW_TEXT_SIGNATURE: module.serve_text.get_concrete_function(),
    }
    # Keras 3 wraps each tf.Variable; unless the tf.Variables the signatures capture are tracked
    # themselves, the SavedModel loads in Python but not in the C++/TF1 loader that TF Serving and
    # saved_model_cli use ("Could not find variable embedding/embeddings"; keras-team/keras#19274).
    # Keras' own ExportArchive tracks them the same way.
    module.captured_variables = list(
        {id(v): v for fn in signatures.values() for v in fn.variables}.values())
    tf.saved_model.save(module, export_dir, signatures=signatures)


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
        self.history: Dict[str, List[float]] = {}

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


class EpochBackup(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore (weights, optimizer state and epoch after every epoch; restored at
    the start, deleted once training ends) plus the epochs' history, so a Trainer that was
    interrupted resumes where it stopped and its history.json still covers every epoch.
    Every worker restores; only the chief writes."""

    def __init__(self, backup_dir: str, epoch_log: EpochLog, chief: bool):
        super().__init__(backup_dir)
        self._epoch_log = epoch_log
        self._chief = chief

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        history = os.path.join(self.backup_dir, HISTORY_FILE)
        if self.model._initial_epoch and tf.io.gfile.exists(history):
            with tf.io.gfile.GFile(history) as f:
                self._epoch_log.history = json.load(f)
            _log.warning("resuming after epoch %d from the backup in %s",
                         self.model._initial_epoch, self.backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        if self._chief:
            super().on_epoch_end(epoch, logs)
            with tf.io.gfile.GFile(os.path.join(self.backup_dir, HISTORY_FILE), "w") as f:
                json.dump(self._epoch_log.history, f)

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


def fit(model: keras.Model, strategy: tf.distribute.Strategy,
        trainer_config: config.TrainerConfig, epochs: int, train_data: DatasetFn,
        eval_data: DatasetFn, run_dir: str, inputs: List[str],
        early_stopping_metric: str) -> Dict[str, List[float]]:
    """Fits with early stopping on `early_stopping_metric` of eval (best weights restored), the
    epoch log, TensorBoard and per-epoch backups keyed by the settings and `inputs`; returns each
    epoch's metrics and seconds."""
    epoch_log = EpochLog(epochs)
    chief = strategies.is_chief(strategy)
    callbacks = [
        epoch_log,  # before the backup, which stores the history including this epoch
        # Before any swap of averaged weights: a resumed run needs the weights as trained, with
        # their averages in the optimizer's state.
        EpochBackup(backup_dir(run_dir, trainer_config, inputs), epoch_log, chief),
        *keep_best_epoch(trainer_config, early_stopping_metric),
    ]
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=os.path.join(run_dir, "tensorboard")))
    if distributed_loop.is_needed(strategy):
        distributed_loop.fit(model, strategy, train_data, eval_data, epochs, callbacks)
    else:
        model.fit(train_data(), validation_data=eval_data(), epochs=epochs, callbacks=callbacks,
                  verbose=0)
    return epoch_log.history


def write_history(run_dir: str, history: Dict[str, List[float]]) -> None:
    tf.io.gfile.makedirs(run_dir)
    with tf.io.gfile.GFile(os.path.join(run_dir, HISTORY_FILE), "w") as f:
        json.dump(history, f, indent=2)


def scores_and_labels(model: keras.Model,
                      batches: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """The model's output for every review of `batches`, and their labels."""
    predict = tf.function(lambda tokens: model(tokens, training=False), reduce_retracing=True)
    scores, labels = [], []
    for tokens, batch_labels in batches:
        scores.append(np.ravel(predict(tokens)))
        labels.append(np.ravel(batch_labels))
    return np.concatenate(scores), np.concatenate(labels)


def choose_threshold(model: keras.Model, eval_batches: tf.data.Dataset,
                     trainer_config: config.TrainerConfig) -> Dict[str, float]:
    """The decision threshold for the served model, and what it does to eval accuracy."""
    scores, labels = scores_and_labels(model, eval_batches)
    threshold = calibration.NEUTRAL
    if not trainer_config.calibrate_threshold:
        _log.info("decision threshold kept at 0.5: calibrate_threshold is off")
    elif len(scores) < calibration.MIN_REVIEWS:
        _log.warning("decision threshold kept at 0.5: %d eval reviews, calibrating needs %d or "
                     "more", len(scores), calibration.MIN_REVIEWS)
    else:
        threshold = calibration.decision_threshold(scores, labels)
    result = {"decision_threshold": threshold, "eval_reviews": len(scores),
              "eval_accuracy_at_0.5": calibration.accuracy(scores, labels, calibration.NEUTRAL),
              "eval_accuracy": calibration.accuracy(scores, labels, threshold)}
    _log.info("decision threshold %.3f (the served score is 0.5 there): eval accuracy %.4f at 0.5, "
              "%.4f at the threshold, on %d reviews", threshold, result["eval_accuracy_at_0.5"],
              result["eval_accuracy"], len(scores))
    return result


def vocabulary_size(trainer_config: config.TrainerConfig,
                    tf_transform_output: tft.TFTransformOutput) -> int:
    """Token ids the model embeds: the vocabulary, its OOV buckets and the padding id."""
    return (tf_transform_output.vocabulary_size_by_name(config.VOCABULARY_NAME)
            + trainer_config.oov_buckets + 1)


def pretrained_rows(pretrained_dir: str, trainer_config: config.TrainerConfig,
                    tf_transform_output: tft.TFTransformOutput) -> np.ndarray:
    """For each token id this Transform gives, the row of the same token in the embedding that
    pretraining saved in `pretrained_dir`: padding's, the same word's (-1 for a word its
    vocabulary lacks), the same OOV bucket's."""
    def words(path: str) -> List[str]:
        with tf.io.gfile.GFile(path) as f:
            return f.read().splitlines()

    pretrained = words(os.path.join(pretrained_dir, config.PRETRAINED_VOCABULARY_FILE))
    row_of = {word: row for row, word in enumerate(pretrained, start=config.PADDING_ID + 1)}
    own = words(tf_transform_output.vocabulary_file_by_name(config.VOCABULARY_NAME))
    oov_rows = range(len(pretrained) + 1, len(pretrained) + 1 + trainer_config.oov_buckets)
    return np.array([config.PADDING_ID, *(row_of.get(word, -1) for word in own), *oov_rows])


def train(trainer_config: config.TrainerConfig, tf_transform_output: tft.TFTransformOutput,
          train_files: List[str], eval_files: List[str], serving_model_dir: str,
          run_dir: str, pretrained_dir: Optional[str] = None) -> Dict[str, List[float]]:
    """Trains and exports; model code only, no TFX types, so tests and benchmarks call it too.
    `pretrained_dir`: the pretraining's output, whose embedding the model starts from.
    Returns what history.json holds: each epoch's metrics and seconds."""
    keras.utils.set_random_seed(trainer_config.seed)
    strategy = strategies.create(trainer_config.strategy)
    global_batch_size = trainer_config.batch_size * strategy.num_replicas_in_sync
    vocabulary = vocabulary_size(trainer_config, tf_transform_output)
    with strategy.scope():
        model = models.build(trainer_config, vocabulary)
        if pretrained_dir:
            rows = pretrained_rows(pretrained_dir, trainer_config, tf_transform_output)
            models.warm_start(model, os.path.join(pretrained_dir, config.PRETRAINED_ENCODER_FILE),
                              rows)
            words = len(rows) - 1 - trainer_config.oov_buckets
            missing = int(np.sum(rows < 0))
            _log.info("starting from the pretrained embedding in %s (%s)", pretrained_dir,
                      f"{missing:,} of this vocabulary's {words:,} words not in its own: they "
                      "start fresh" if missing else "every word of this vocabulary in its own")
    _log.info("training variant %r: %s parameters, vocabulary %d ids, global batch %d",
              trainer_config.variant, f"{model.count_params():,}", vocabulary, global_batch_size)
    if trainer_config.weight_averaging is not None:
        _log.info("eval scores, and early stopping keeps, the weights averaged over steps "
                  "(momentum %g)", trainer_config.weight_averaging)
    parse = transformed_examples(tf_transform_output)

    def data(files, shuffle):
        return lambda input_context=None: dataset(files, parse, trainer_config,
                                                  global_batch_size, shuffle, input_context)

    inputs = (train_files + eval_files + [tf_transform_output.transform_savedmodel_dir]
              + ([pretrained_dir] if pretrained_dir else []))
    history = fit(model, strategy, trainer_config, trainer_config.epochs,
                  data(train_files, shuffle=True), data(eval_files, shuffle=False), run_dir,
                  inputs, trainer_config.early_stopping_metric)
    chosen = choose_threshold(model, data(eval_files, shuffle=False)(), trainer_config)
    if not strategies.is_chief(strategy):
        # Every worker must take part in saving (it may read variables collectively); only
        # the chief's copy is kept.
        with tempfile.TemporaryDirectory() as scratch:
            export_serving_model(model, tf_transform_output, scratch, chosen["decision_threshold"])
        _log.info("worker %s done; the chief writes the model", strategies.task_name(strategy))
        return history
    export_serving_model(model, tf_transform_output, serving_model_dir,
                         chosen["decision_threshold"])
    for asset, content in ((CONFIG_ASSET, trainer_config.to_dict()), (CALIBRATION_ASSET, chosen)):
        path = os.path.join(serving_model_dir, asset)
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(content, f, indent=2, sort_keys=True)
    write_history(run_dir, history)
    _log.info("exported SavedModel to %s", serving_model_dir)
    return history
