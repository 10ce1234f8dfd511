"""The module file of the Pretrainer, a second TFX Trainer: a language model on unlabelled reviews
(trainer/pretraining.py), whose output the Trainer gets as its `base_model`.

TFX packages this directory into a wheel exactly as for tfx_module.py (a Trainer takes one
`run_fn` per module file, hence a module of its own).
"""
from trainer import pretraining
from trainer.tfx_module import model_code_args


def run_fn(fn_args) -> None:
    pretraining.pretrain(**model_code_args(fn_args), output_dir=fn_args.serving_model_dir)
