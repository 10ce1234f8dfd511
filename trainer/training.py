"""Training: fits the configured variant with the project's callbacks, fits the decision
threshold and exports the SavedModel. Model code only, no TFX types: the TFX module
(trainer/tfx_module.py), tests and benchmarks call `train` alike."""
import json
import logging
import os
import tempfile
from typing import Callable, List, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft

from trainer import artifacts, calibration, callbacks, config, distributed_loop, export
from trainer import input_pipeline, models, strategy as strategies, warm_start
from trainer.callbacks import History
from trainer.distributed_loop import DatasetFn

_log = logging.getLogger(__name__)


def fit(model: keras.Model, strategy: tf.distribute.Strategy,
        trainer_config: config.TrainerConfig, epochs: int, train_data: DatasetFn,
        eval_data: DatasetFn, run_dir: str, inputs: List[str],
        early_stopping_metric: str) -> History:
    """Fits with early stopping on `early_stopping_metric` of eval (best weights restored), the
    epoch log, TensorBoard and per-epoch backups keyed by the settings and `inputs`; returns each
    epoch's metrics and seconds."""
    epoch_log = callbacks.EpochLog(epochs)
    chief = strategies.is_chief(strategy)
    fit_callbacks = [
        epoch_log,  # before the backup, which stores the history including this epoch
        callbacks.StopOnDivergence(trainer_config),  # before the backup: never back up NaNs
        # Before any swap of averaged weights: a resumed run needs the weights as trained, with
        # their averages in the optimizer's state.
        callbacks.EpochBackup(callbacks.backup_dir(run_dir, trainer_config, inputs), epoch_log,
                              chief),
        *callbacks.keep_best_epoch(trainer_config, early_stopping_metric),
    ]
    if chief:
        fit_callbacks.append(
            keras.callbacks.TensorBoard(log_dir=os.path.join(run_dir, "tensorboard")))
    if distributed_loop.is_needed(strategy):
        if trainer_config.adversarial_epsilon:
            raise ValueError(f"trainer.adversarial_epsilon: adversarial training runs under "
                             f"Model.fit, on one replica; this strategy has "
                             f"{strategy.num_replicas_in_sync} (set strategy: default)")
        distributed_loop.fit(model, strategy, train_data, eval_data, epochs, fit_callbacks)
    else:
        model.fit(train_data(), validation_data=eval_data(), epochs=epochs,
                  callbacks=fit_callbacks, verbose=0)
    return epoch_log.history


def _log_model(model: keras.Model, trainer_config: config.TrainerConfig, vocabulary: int,
               ngrams: int, global_batch_size: int) -> None:
    wide = f", beside a wide part over {ngrams - 1:,} n-grams" if ngrams else ""
    _log.info("training variant %r%s: %s parameters, vocabulary %d ids, global batch %d",
              trainer_config.variant, wide, f"{model.count_params():,}", vocabulary,
              global_batch_size)
    if trainer_config.weight_averaging is not None:
        _log.info("eval scores, and early stopping keeps, the weights averaged over steps "
                  "(momentum %g)", trainer_config.weight_averaging)


def train(trainer_config: config.TrainerConfig, tf_transform_output: tft.TFTransformOutput,
          train_files: List[str], eval_files: List[str], serving_model_dir: str,
          run_dir: str, pretrained_dir: Optional[str] = None,
          warm_start_from: Optional[str] = None) -> History:
    """Trains and exports. `pretrained_dir`: the pretraining's output, whose embedding the model
    starts from; `warm_start_from`: a serving directory whose newest model it starts from (over
    the pretrained embedding). Returns what history.json holds: each epoch's metrics and
    seconds."""
    keras.utils.set_random_seed(trainer_config.seed)
    strategy = strategies.create(trainer_config.strategy)
    global_batch_size = trainer_config.batch_size * strategy.num_replicas_in_sync
    vocabulary = input_pipeline.vocabulary_size(trainer_config, tf_transform_output)
    ngrams = input_pipeline.ngram_vocabulary_size(trainer_config, tf_transform_output)
    with strategy.scope():
        model = models.build(trainer_config, vocabulary, ngrams)
        if pretrained_dir:
            warm_start.start_from_pretrained(model, pretrained_dir, trainer_config,
                                             tf_transform_output)
        serving_model = warm_start.start_from_serving(
            model, warm_start_from, trainer_config, tf_transform_output) if warm_start_from \
            else None
    _log_model(model, trainer_config, vocabulary, ngrams, global_batch_size)
    data = _datasets(trainer_config, tf_transform_output, global_batch_size)
    inputs = (train_files + eval_files + [tf_transform_output.transform_savedmodel_dir]
              + ([pretrained_dir] if pretrained_dir else []))
    history = fit(model, strategy, trainer_config, trainer_config.epochs,
                  data(train_files, shuffle=True), data(eval_files, shuffle=False), run_dir,
                  inputs, trainer_config.early_stopping_metric)
    threshold = calibration.fit_threshold(model, data(eval_files, shuffle=False)(),
                                          trainer_config)
    if not strategies.is_chief(strategy):
        # Every worker must take part in saving (it may read variables collectively); only
        # the chief's copy is kept.
        with tempfile.TemporaryDirectory() as scratch:
            export.export_serving_model(model, tf_transform_output, scratch,
                                        threshold["decision_threshold"])
        _log.info("worker %s done; the chief writes the model", strategies.task_name(strategy))
        return history
    export.export_serving_model(model, tf_transform_output, serving_model_dir,
                                threshold["decision_threshold"])
    export.write_assets(serving_model_dir, trainer_config, threshold)
    export.save_for_warm_start(model, serving_model_dir, tf_transform_output, trainer_config)
    callbacks.write_history(run_dir, history)
    with tf.io.gfile.GFile(os.path.join(run_dir, artifacts.START_FILE), "w") as f:
        json.dump({"pretrained_model": pretrained_dir, "serving_model": serving_model}, f)
    _log.info("exported SavedModel to %s", serving_model_dir)
    return history


def _datasets(trainer_config: config.TrainerConfig, tf_transform_output: tft.TFTransformOutput,
              global_batch_size: int) -> Callable[[List[str], bool], DatasetFn]:
    """files, shuffle -> a function of the input context giving Transform's examples in batches."""
    parse = input_pipeline.transformed_examples(tf_transform_output)

    def data(files: List[str], shuffle: bool) -> DatasetFn:
        return lambda input_context=None: input_pipeline.dataset(
            files, parse, trainer_config, global_batch_size, shuffle, input_context)
    return data
