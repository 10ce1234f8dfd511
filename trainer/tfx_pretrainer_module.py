"""The module file of the Pretrainer, a second TFX Trainer: a language model on unlabelled reviews
(trainer/pretraining.py), whose output the Trainer gets as its `base_model`.

TFX packages this directory into a wheel exactly as for tfx_module.py (a Trainer takes one
`run_fn` per module file, hence a module of its own).
"""
import tensorflow_transform as tft

from trainer import config, pretraining


def run_fn(fn_args) -> None:
    pretraining.pretrain(
        trainer_config=config.TrainerConfig.from_custom_config(fn_args.custom_config),
        tf_transform_output=tft.TFTransformOutput(fn_args.transform_output),
        train_files=fn_args.train_files,
        eval_files=fn_args.eval_files,
        output_dir=fn_args.serving_model_dir,
        run_dir=fn_args.model_run_dir,
    )
