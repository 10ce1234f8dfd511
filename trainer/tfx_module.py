"""The module file TFX's Transform, Tuner and Trainer load.

Given as `module_file`, TFX packages every .py file of this directory into a wheel whose version
is a hash of their contents, so a change to any trainer code re-runs Transform and Trainer instead
of reusing stale cached outputs (function paths like 'trainer.x.fn' are not part of the cache key).
"""
from typing import Any, Dict

import tensorflow_transform as tft

from trainer import config, training, tuning
from trainer.preprocessing import preprocessing_fn  # noqa: F401  (TFX looks it up by name)


def model_code_args(fn_args) -> Dict[str, Any]:
    """What the model code needs of TFX's FnArgs, for this module's functions and the
    Pretrainer's run_fn."""
    return dict(
        trainer_config=config.TrainerConfig.from_custom_config(fn_args.custom_config),
        tf_transform_output=tft.TFTransformOutput(fn_args.transform_graph_path),
        train_files=fn_args.train_files,
        eval_files=fn_args.eval_files,
        run_dir=fn_args.model_run_dir,
    )


def tuner_fn(fn_args) -> tuning.TunerFnResult:
    arguments = model_code_args(fn_args)
    del arguments["run_dir"]  # the Tuner has none: its trials live in its working directory
    settings = fn_args.custom_config[config.TUNING_KEY]
    return tuning.tuner(**arguments, working_dir=fn_args.working_dir, trials=settings["trials"],
                        epochs=settings["epochs"], train_steps=fn_args.train_steps)


def run_fn(fn_args) -> None:
    arguments = model_code_args(fn_args)
    arguments["trainer_config"] = tuning.tuned(arguments["trainer_config"],
                                               fn_args.hyperparameters)
    training.train(
        **arguments,
        serving_model_dir=fn_args.serving_model_dir,
        pretrained_dir=fn_args.base_model,  # the Pretrainer's output, if the pipeline has one
        warm_start_from=(fn_args.custom_config or {}).get(config.WARM_START_KEY),
    )
