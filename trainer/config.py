"""The trainer's hyperparameters: the one place their names, defaults and allowed values live.

The pipeline hands `TrainerConfig.to_dict()` to Transform and Trainer through `custom_config`, so
the model code never imports the orchestration layer. Feature keys are in trainer/features.py.
Imports nothing heavy: the CLI and the pipeline's config load it without TensorFlow.
"""
import dataclasses
from typing import Any, Dict, Mapping, Optional

from trainer import typed_fields

# The builders of trainer/models.py, by name (a test checks that the two agree).
VARIANTS = ("attention", "basic", "bidirectional", "regularized", "stacked")
# tf.distribute strategies trainer/strategy.py builds; `auto` picks by the hardware it finds.
STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
# What early stopping can watch on eval, and in which direction it improves.
EARLY_STOPPING_MODES = {"accuracy": "max", "loss": "min"}

# Key under which the trainer config travels inside TFX's custom_config.
CUSTOM_CONFIG_KEY = "trainer"
# Beside it, for continuous training: the serving directory whose newest model the Trainer starts
# from (trainer/warm_start.py); absent: from scratch.
WARM_START_KEY = "warm_start_from"
# And in the Tuner's: how many trials of how many epochs (trainer/tuning.py).
TUNING_KEY = "tuning"
# The settings preprocessing_fn reads. Transform gets only these, so changing a training
# hyperparameter re-runs the Trainer but reuses Transform's cached vocabulary.
TRANSFORM_SETTINGS = ("vocab_size", "oov_buckets", "sequence_length", "ngram_vocab_size",
                      "ngram_order")
# The settings the Pretrainer reads: choosing another variant, classifier epochs or classifier
# learning rate reuses its cached language model.
PRETRAINING_SETTINGS = TRANSFORM_SETTINGS + (
    "embedding_dim", "lstm_units", "pretrain_learning_rate", "clipnorm", "batch_size",
    "batch_length_buckets", "pretrain_epochs", "early_stopping_patience", "shuffle_buffer",
    "seed")


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """Everything Transform and Trainer need to know."""

    variant: str = "basic"
    # tf.distribute strategy: auto | default | one_device | mirrored | multi_worker | tpu
    strategy: str = "auto"
    vocab_size: int = 10_000
    oov_buckets: int = 1
    sequence_length: int = 200
    # The wide part: a linear model over each review's distinct n-grams of 1 to ngram_order words
    # (TF-IDF weighted), among the ngram_vocab_size most frequent in train, whose logit adds to
    # the LSTM's; 0: the LSTM alone. It reads the whole review, the LSTM its last
    # sequence_length words. On by default: eval 0.881 against 0.849 for the LSTM alone
    # (docs/experiments/2026-12-07-wide-part.md).
    ngram_vocab_size: int = 200_000
    ngram_order: int = 2
    # The wide part's learning rate as a multiple of learning_rate. A review's TF-IDF weights
    # have unit norm, most about 0.03 each, so its logit moves slowly at the LSTM's rate: at 10
    # the LSTM fits the training reviews first and the wide part learns what is left (eval
    # 0.886); at 30 the wide part learns the reviews within the first epoch (eval 0.902)
    # (docs/experiments/2026-12-08-wide-learning-rate.md).
    wide_learning_rate_scale: float = 30.0
    embedding_dim: int = 128
    lstm_units: int = 64
    dense_units: int = 32
    dropout: float = 0.5
    # Drops whole embedding dimensions across a review (SpatialDropout1D), in every variant: the
    # embedding holds most of the parameters and memorizes the training reviews first.
    embedding_dropout: float = 0.0
    l2: float = 0.01  # kernel regularization of the `regularized` variant
    # Adversarial training on the embeddings (trainer/adversarial.py): each step also trains on
    # the reviews with their embedded words moved by this fraction of their norm in the direction
    # that raises the loss most; 0: off. 1.8x the time a step; eval 0.907 against 0.902, test 0.915
    # against 0.916 (docs/experiments/2026-12-08-wide-learning-rate.md).
    adversarial_epsilon: float = 0.0
    learning_rate: float = 1e-3
    # LSTMs on long reviews occasionally see exploding gradients; clipping is cheap insurance.
    clipnorm: Optional[float] = 1.0
    # Momentum of a moving average of the weights over training steps, which eval then scores and
    # early stopping keeps instead of the weights as trained; null: off. The weights as trained
    # can swing between epochs (a whole epoch's output shifted past 0.5); the average steadies
    # them (docs/experiments/2026-12-03-weight-averaging.md).
    weight_averaging: Optional[float] = None
    batch_size: int = 64
    # Batches of reviews of similar length, cut to the longest one's bucket (1: off, every batch
    # is sequence_length long).
    batch_length_buckets: int = 4
    epochs: int = 5
    # Epochs of language-model pretraining on unlabelled reviews, whose embedding the classifier
    # then starts from (trainer/pretraining.py, models.warm_start); 0: train from scratch.
    pretrain_epochs: int = 0
    # The language model's own: it learns far slower at the smaller rates that suit the classifier
    # (docs/experiments/2026-12-04-pretraining-epochs.md).
    pretrain_learning_rate: float = 1e-3
    # Keras dtype policy: mixed_float16 for GPUs with tensor cores, mixed_bfloat16 for TPUs (and
    # recent CPUs); the output layer stays float32 either way.
    precision: str = "float32"
    early_stopping_patience: int = 2
    # Accuracy, what the Evaluator gates on: eval loss rises as soon as the model grows confident
    # on the reviews it gets wrong, often while its accuracy still rises.
    early_stopping_metric: str = "accuracy"
    # Serve the score shifted by the constant that best fits eval's labels, so 0.5 is the decision
    # threshold fitted there (calibration.py); false: the model's own output, cut at 0.5.
    calibrate_threshold: bool = True
    # Serialized examples shuffled per epoch. ExampleGen writes the official training reviews in
    # the archive's order, grouped by label; a buffer smaller than the split trains on long runs
    # of one label (docs/experiments/2026-12-02-training-order.md). 50,000 holds IMDB's training
    # split whole (about 25 MB at 400 tokens).
    shuffle_buffer: int = 50_000
    seed: int = 42

    def __post_init__(self):
        typed_fields.check(self, prefix="trainer.")
        if self.variant not in VARIANTS:
            raise ValueError(f"trainer.variant must be one of {list(VARIANTS)}, "
                             f"got {self.variant!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"trainer.strategy must be one of {list(STRATEGIES)}, "
                             f"got {self.strategy!r}")
        if self.early_stopping_metric not in EARLY_STOPPING_MODES:
            raise ValueError(f"trainer.early_stopping_metric must be one of "
                             f"{list(EARLY_STOPPING_MODES)}, got {self.early_stopping_metric!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision must be one of {list(PRECISIONS)}, "
                             f"got {self.precision!r}")
        for name in ("vocab_size", "sequence_length", "embedding_dim", "lstm_units", "dense_units",
                     "batch_size", "epochs", "batch_length_buckets", "shuffle_buffer"):
            if getattr(self, name) < 1:
                raise ValueError(f"trainer.{name} must be >= 1, got {getattr(self, name)}")
        if self.pretrain_epochs < 0:
            raise ValueError(f"trainer.pretrain_epochs must be >= 0, got {self.pretrain_epochs}")
        if self.ngram_vocab_size < 0 or not 1 <= self.ngram_order <= 3:
            raise ValueError(f"trainer.ngram_vocab_size must be >= 0 and trainer.ngram_order in "
                             f"1..3, got {self.ngram_vocab_size}, {self.ngram_order}")
        if self.oov_buckets < 1:
            raise ValueError(f"trainer.oov_buckets must be >= 1, got {self.oov_buckets}")
        for name in ("dropout", "embedding_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"trainer.{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.adversarial_epsilon < 1.0:
            raise ValueError(f"trainer.adversarial_epsilon must be in [0, 1), "
                             f"got {self.adversarial_epsilon}")
        if self.wide_learning_rate_scale <= 0:
            raise ValueError(f"trainer.wide_learning_rate_scale must be > 0, "
                             f"got {self.wide_learning_rate_scale}")
        if self.l2 < 0:
            raise ValueError(f"trainer.l2 must be >= 0, got {self.l2}")
        for name in ("learning_rate", "pretrain_learning_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"trainer.{name} must be > 0, got {getattr(self, name)}")
        if self.clipnorm is not None and self.clipnorm <= 0:
            raise ValueError(f"trainer.clipnorm must be > 0 or null, got {self.clipnorm}")
        if self.weight_averaging is not None and not 0.0 < self.weight_averaging < 1.0:
            raise ValueError(f"trainer.weight_averaging must be in (0, 1) or null, "
                             f"got {self.weight_averaging}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainerConfig":
        if not isinstance(values, Mapping):
            raise ValueError(f"trainer: expected a mapping of settings, got {values!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown trainer setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Mapping[str, Any]]) -> "TrainerConfig":
        return cls.from_dict((custom_config or {}).get(CUSTOM_CONFIG_KEY, {}))
