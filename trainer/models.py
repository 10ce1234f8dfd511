"""LSTM variants: one small builder each, registered by name.

Keras 3 (`import keras`) on purpose, never `tf.keras`: what `tf.keras` means in TF 2.16 depends on
TF_USE_LEGACY_KERAS, which tf.Transform and the `tfx` CLI set as a side effect of being imported,
so the same code would build a Keras 2 or Keras 3 model depending on the launcher. Keras 3 is also
the faster of the two here (Trainer 22 s vs 53 s on the 2,000-review prototype) and, exported with
`tf.saved_model.save`, lets TFMA evaluate the SavedModel's signature directly instead of reloading
it as Keras and recomputing compiled metrics (Evaluator 15 s / 1.9 GB vs 85 s / 4.3 GB).

Every LSTM keeps the defaults under which TensorFlow uses the fused cuDNN kernel on a GPU
(tanh/sigmoid activations, no recurrent dropout, unroll=False, use_bias=True).

Padding without a Keras mask: reviews are right-padded, so padding comes after every real token
and changes no LSTM output up to a review's last real token. Each LSTM runs unmasked and the
variants read its output there (`LastRealState`), which is exactly what a masked LSTM returns.
A masked LSTM adds selects to every step: on a CPU, `basic`'s fastest epoch took 1.11x the
unmasked plain-Keras reference's with a mask, 1.00x without (docs/BENCHMARKS.md, "Seconds per
epoch, interleaved").
"""
from typing import Callable, Dict, Optional

import keras
import numpy as np
import tensorflow as tf

from trainer.config import PADDING_ID, TrainerConfig

ModelBuilder = Callable[[TrainerConfig, int], keras.Model]
# Pretraining hands the classifier its embedding by this layer name.
EMBEDDING_LAYER = "embedding"

_REGISTRY: Dict[str, ModelBuilder] = {}


def register(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    def decorate(builder: ModelBuilder) -> ModelBuilder:
        _REGISTRY[name] = builder
        return builder
    return decorate


def variants():
    return sorted(_REGISTRY)


def build(trainer_config: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """Builds and compiles the configured variant; `vocabulary_size` counts padding and OOV ids."""
    global_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(trainer_config.precision)
    try:
        model = _REGISTRY[trainer_config.variant](trainer_config, vocabulary_size)
    finally:
        keras.config.set_dtype_policy(global_policy)
    # Under mixed_float16, compile wraps the optimizer in a LossScaleOptimizer.
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=trainer_config.learning_rate, clipnorm=trainer_config.clipnorm,
            # The optimizer keeps the averages; training.keep_best_epoch swaps them in.
            use_ema=trainer_config.weight_averaging is not None,
            ema_momentum=trainer_config.weight_averaging or 0.99),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def real_lengths(tokens: tf.Tensor) -> tf.Tensor:
    """Real (not padding) tokens in each review of a batch, or in one review."""
    return tf.math.count_nonzero(tf.not_equal(tokens, PADDING_ID), axis=-1, dtype=tf.int32)


class LastRealState(keras.layers.Layer):
    """Each review's output at its last real token; zeros for an empty review, as a masked LSTM
    returns."""

    def call(self, sequences, tokens):
        lengths = real_lengths(tokens)
        last = tf.gather(sequences, tf.maximum(lengths - 1, 0), batch_dims=1)
        return tf.where((lengths > 0)[:, tf.newaxis], last, tf.zeros_like(last))


class MeanOverRealTokens(keras.layers.Layer):
    """Each review's mean step over its real tokens; zeros for an empty review, for which
    GlobalAveragePooling1D's masked mean divides 0 by 0 and the model scored NaN."""

    def call(self, sequences, real):
        real = keras.ops.expand_dims(keras.ops.cast(real, sequences.dtype), -1)
        count = keras.ops.maximum(keras.ops.sum(real, axis=1), 1.0)
        return keras.ops.sum(sequences * real, axis=1) / count

    def compute_mask(self, inputs, previous_mask=None):
        # Takes the steps' mask (Attention attaches one; a layer that defines compute_mask
        # supports masking, so Keras does not warn that it is dropped) and ends it: one vector per
        # review, no steps left to mask.
        return None


def _last_state(lstm: keras.layers.LSTM, sequences, tokens):
    """`lstm`'s output at each review's last real token."""
    return LastRealState()(lstm(sequences), tokens)


class ReversedReviews(keras.layers.Layer):
    """Each review's steps in reverse order, padding still at the end: a backward LSTM over them
    starts at the last real token."""

    def call(self, sequences, tokens):
        return tf.reverse_sequence(sequences, real_lengths(tokens), seq_axis=1, batch_axis=0)


def _embedded_tokens(c: TrainerConfig, vocabulary_size: int):
    """The model's input (right-padded token ids, any length up to sequence_length: length
    buckets cut batches short) and their embeddings."""
    tokens = keras.Input(shape=(None,), dtype="int64", name="tokens")
    embedding = keras.layers.Embedding(vocabulary_size, c.embedding_dim, name=EMBEDDING_LAYER)
    embedded = embedding(tokens)
    if c.embedding_dropout:
        embedded = keras.layers.SpatialDropout1D(c.embedding_dropout)(embedded)
    return tokens, embedded


def encoder(c: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """What language-model pretraining trains: an embedding like every variant's and an LSTM's
    states over it (those at padding are not used)."""
    tokens, x = _embedded_tokens(c, vocabulary_size)
    return keras.Model(tokens, keras.layers.LSTM(c.lstm_units, return_sequences=True)(x),
                       name="encoder")


def warm_start(model: keras.Model, encoder_path: str,
               rows: Optional[np.ndarray] = None) -> None:
    """Starts `model`'s embedding from a saved `encoder`'s.

    `rows`: for each of the model's token ids, the encoder's row for the same word, or -1 where
    the encoder has none (that id keeps its fresh start); None: the same ids.

    The embedding only: the pretrained LSTM, trained to predict the next word, carries little to
    its last state, and `basic`, which reads only that state, then predicted one class for three
    epochs on IMDB (docs/BENCHMARKS.md, "Transfer ablation"); `attention`, which reads every
    state, gained nothing from it, and 0.020 less test accuracy from a sixteen-epoch one.
    """
    pretrained = keras.models.load_model(encoder_path).get_layer(EMBEDDING_LAYER).get_weights()[0]
    embedding = model.get_layer(EMBEDDING_LAYER)
    [weights] = embedding.get_weights()
    rows = np.arange(len(weights)) if rows is None else rows
    if (pretrained.shape[1] != weights.shape[1] or len(rows) != len(weights)
            or rows.max() >= len(pretrained)):
        raise ValueError(f"{encoder_path}: the pretrained embedding ({pretrained.shape[0]} ids x "
                         f"{pretrained.shape[1]}) does not fit {model.name!r} ({weights.shape[0]} "
                         f"ids x {weights.shape[1]}): pretrain with the same embedding_dim, "
                         f"oov_buckets and, without a vocabulary to match words by, vocab_size")
    found = rows >= 0
    weights[found] = pretrained[rows[found]]
    embedding.set_weights([weights])


def _probability_of_positive(tokens, features, name: str) -> keras.Model:
    # float32 whatever the precision: a stable sigmoid and loss, and what serving returns.
    head = keras.layers.Dense(1, activation="sigmoid", dtype="float32")
    return keras.Model(tokens, head(features), name=name)


@register("basic")
def basic(c: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """The seed's model: Embedding -> LSTM -> Dropout -> Dense relu -> Dropout -> sigmoid."""
    tokens, x = _embedded_tokens(c, vocabulary_size)
    x = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True), x, tokens)
    x = keras.layers.Dropout(c.dropout)(x)
    x = keras.layers.Dense(c.dense_units, activation="relu")(x)
    x = keras.layers.Dropout(c.dropout)(x)
    return _probability_of_positive(tokens, x, "basic")


@register("stacked")
def stacked(c: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """Two LSTMs: the first hands its whole sequence to the second."""
    tokens, x = _embedded_tokens(c, vocabulary_size)
    x = keras.layers.LSTM(c.lstm_units, return_sequences=True)(x)
    second = keras.layers.LSTM(max(1, c.lstm_units // 2), return_sequences=True)
    x = _last_state(second, x, tokens)
    x = keras.layers.Dropout(c.dropout)(x)
    return _probability_of_positive(tokens, x, "stacked")


@register("bidirectional")
def bidirectional(c: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """Reads each review both ways; the backward pass starts at the last real token."""
    tokens, x = _embedded_tokens(c, vocabulary_size)
    forward = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True), x, tokens)
    backward = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True),
                           ReversedReviews()(x, tokens), tokens)
    x = keras.layers.Concatenate()([forward, backward])
    x = keras.layers.Dropout(c.dropout)(x)
    return _probability_of_positive(tokens, x, "bidirectional")


@register("attention")
def attention(c: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """LSTM states attend to each other (padding masked out), then are averaged over real
    tokens only."""
    tokens, x = _embedded_tokens(c, vocabulary_size)
    real = keras.ops.not_equal(tokens, PADDING_ID)
    states = keras.layers.LSTM(c.lstm_units, return_sequences=True)(x)
    attended = keras.layers.Attention()([states, states], mask=[real, real])
    pooled = MeanOverRealTokens()(attended, real)
    x = keras.layers.Dense(c.dense_units, activation="relu")(pooled)
    return _probability_of_positive(tokens, x, "attention")


@register("regularized")
def regularized(c: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """L2 on the LSTM's input kernel; relies on early stopping (best weights restored)."""
    tokens, x = _embedded_tokens(c, vocabulary_size)
    x = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True,
                                      kernel_regularizer=keras.regularizers.L2(c.l2)), x, tokens)
    x = keras.layers.Dropout(c.dropout)(x)
    return _probability_of_positive(tokens, x, "regularized")
