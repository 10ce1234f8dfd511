"""Hyperparameter search, the TFX way: the pipeline's Tuner component calls `tuner_fn`
(trainer/tfx_module.py), a KerasTuner random search over the configured variant's
hyperparameters, each trial a short fit on a sample of train scored on eval; the Trainer then
trains with the best trial's values (`tuned`), which its exported config records.

Model code only, like training.py: no TFX types beyond the Tuner's result.
"""
import dataclasses
import logging
from typing import Any, Dict, List, Optional

import keras
import keras_tuner
import tensorflow_transform as tft
from tfx.components.tuner.component import TunerFnResult

from trainer import config, input_pipeline, models

_log = logging.getLogger(__name__)
PROJECT_NAME = "imdb_lstm"


def with_hyperparameters(hp: keras_tuner.HyperParameters,
                         trainer_config: config.TrainerConfig) -> config.TrainerConfig:
    """The search space: the settings a trial may change, each by its TrainerConfig name."""
    return dataclasses.replace(
        trainer_config,
        learning_rate=hp.Choice("learning_rate", [3e-4, 1e-3, 3e-3]),
        lstm_units=hp.Choice("lstm_units", [32, 64, 128]),
        dropout=hp.Choice("dropout", [0.2, 0.35, 0.5]),
        embedding_dropout=hp.Choice("embedding_dropout", [0.0, 0.2, 0.4]))


def tuned(trainer_config: config.TrainerConfig,
          hyperparameters: Optional[Dict[str, Any]]) -> config.TrainerConfig:
    """`trainer_config` with the values of a Tuner's best hyperparameters (its config, as the
    Trainer gets it), if any."""
    if not hyperparameters:
        return trainer_config
    values = keras_tuner.HyperParameters.from_config(hyperparameters).values
    _log.info("training with the Tuner's best hyperparameters: %s",
              ", ".join(f"{name}={value}" for name, value in sorted(values.items())))
    return dataclasses.replace(trainer_config, **values)


def tuner(trainer_config: config.TrainerConfig, tf_transform_output: tft.TFTransformOutput,
          train_files: List[str], eval_files: List[str], working_dir: str, trials: int,
          epochs: int, train_steps: int) -> TunerFnResult:
    """A random search of `trials` trials; each trains `epochs` epochs of `train_steps` batches
    of train and is scored by eval accuracy, what the Evaluator gates on."""
    vocabulary = input_pipeline.vocabulary_size(trainer_config, tf_transform_output)
    ngrams = input_pipeline.ngram_vocabulary_size(trainer_config, tf_transform_output)

    def build(hp: keras_tuner.HyperParameters) -> keras.Model:
        return models.build(with_hyperparameters(hp, trainer_config), vocabulary, ngrams)

    search = keras_tuner.RandomSearch(
        build, objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=trials,
        seed=trainer_config.seed, directory=working_dir, project_name=PROJECT_NAME,
        overwrite=True)
    parse = input_pipeline.transformed_examples(tf_transform_output)

    def data(files: List[str], shuffle: bool):
        return input_pipeline.dataset(files, parse, trainer_config, trainer_config.batch_size,
                                      shuffle)

    _log.info("searching %d trials of %d epochs of %d batches, scored on eval", trials, epochs,
              train_steps)
    return TunerFnResult(tuner=search, fit_kwargs={
        "x": data(train_files, shuffle=True).take(train_steps),
        "validation_data": data(eval_files, shuffle=False), "epochs": epochs, "verbose": 0})
