"""LSTM variants: one small builder each, registered by name (config.VARIANTS lists the names),
and the head they share: the LSTM's logit plus, with trainer.ngram_vocab_size, a wide part's (a
linear model over the review's n-grams, trained jointly), then the sigmoid.

A model's inputs are Transform's features by key (as in the TFX templates): the tokens, and the
wide part's n-gram ids and weights (trainer/input_pipeline.py `model_inputs`).

Keras 3 (`import keras`) on purpose, never `tf.keras`: what `tf.keras` means in TF 2.16 depends on
TF_USE_LEGACY_KERAS, which tf.Transform and the `tfx` CLI set as a side effect of being imported,
so the same code would build a Keras 2 or Keras 3 model depending on the launcher. Exported with
`tf.saved_model.save`, a Keras 3 model also lets TFMA evaluate the SavedModel's signature directly
instead of reloading it as Keras and recomputing compiled metrics (several times faster).

Every LSTM keeps the defaults under which TensorFlow uses the fused cuDNN kernel on a GPU
(tanh/sigmoid activations, no recurrent dropout, unroll=False, use_bias=True).

Padding without a Keras mask: reviews are right-padded, so padding comes after every real token
and changes no LSTM output up to a review's last real token. Each LSTM runs unmasked and the
variants read its output there (`LastRealState`), which is exactly what a masked LSTM returns,
without the selects a mask adds to every step on a CPU
(docs/experiments/2026-11-24-seconds-per-epoch.md).
"""
from typing import Callable, Dict

import keras
import tensorflow as tf

from trainer import adversarial
from trainer.config import VARIANTS, TrainerConfig
from trainer.features import NGRAM_WEIGHTS_KEY, NGRAMS_KEY, PADDING_ID, TOKENS_KEY

# (config, the tokens input, token ids) -> the features the head reads.
ModelBuilder = Callable[[TrainerConfig, keras.KerasTensor, int], keras.KerasTensor]
# Pretraining hands the classifier its embedding by this layer name; warm start matches the
# embedding's and the wide part's rows by word and by n-gram.
EMBEDDING_LAYER = "embedding"
WIDE_LAYER = "wide"

_REGISTRY: Dict[str, ModelBuilder] = {}


def register(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    if name not in VARIANTS:
        raise ValueError(f"variant {name!r} is not in trainer.config.VARIANTS; add it there")

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        _REGISTRY[name] = builder
        return builder
    return decorate


def variants():
    return sorted(_REGISTRY)


def build(trainer_config: TrainerConfig, vocabulary_size: int,
          ngram_vocabulary_size: int = 0) -> keras.Model:
    """Builds and compiles the configured variant; `vocabulary_size` counts padding and OOV ids,
    `ngram_vocabulary_size` padding (0: no wide part)."""
    global_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(trainer_config.precision)
    try:
        inputs = {TOKENS_KEY: keras.Input(shape=(None,), dtype="int64", name=TOKENS_KEY)}
        deep = _REGISTRY[trainer_config.variant](trainer_config, inputs[TOKENS_KEY],
                                                 vocabulary_size)
        # float32 whatever the precision: a stable sigmoid and loss, and what serving returns.
        logit = keras.layers.Dense(1, dtype="float32", name="lstm_logit")(deep)
        if ngram_vocabulary_size:
            inputs.update({key: keras.Input(shape=(None,), dtype=dtype, name=key) for key, dtype
                           in ((NGRAMS_KEY, "int64"), (NGRAM_WEIGHTS_KEY, "float32"))})
            wide = WideLogit(ngram_vocabulary_size, trainer_config.wide_learning_rate_scale,
                             name=WIDE_LAYER)(inputs[NGRAMS_KEY], inputs[NGRAM_WEIGHTS_KEY])
            logit = keras.layers.Add(dtype="float32")([logit, wide])
        probabilities = keras.layers.Activation("sigmoid", dtype="float32")(logit)
        model = _model(trainer_config, inputs, probabilities)
    finally:
        keras.config.set_dtype_policy(global_policy)
    # Under mixed_float16, compile wraps the optimizer in a LossScaleOptimizer.
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=trainer_config.learning_rate, clipnorm=trainer_config.clipnorm,
            # The optimizer keeps the averages; callbacks.keep_best_epoch swaps them in.
            use_ema=trainer_config.weight_averaging is not None,
            ema_momentum=trainer_config.weight_averaging or 0.99),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _model(c: TrainerConfig, inputs, probabilities) -> keras.Model:
    if c.adversarial_epsilon:
        return adversarial.AdversarialModel(inputs, probabilities, name=c.variant,
                                            adversarial_epsilon=c.adversarial_epsilon)
    return keras.Model(inputs, probabilities, name=c.variant)


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


class WideLogit(keras.layers.Layer):
    """A linear model over a review's n-grams: one learnt weight per n-gram id (0, padding,
    weighs nothing), times the n-gram's TF-IDF weight in the review, summed, times `scale`. The
    weights start at 0, so the model starts as the LSTM alone.

    Under Adam a weight moves about the learning rate a step whatever its gradient, so `scale`
    is the wide part's learning rate as a multiple of the LSTM's (trainer.wide_learning_rate_scale).
    """

    def __init__(self, ngram_vocabulary_size: int, scale: float, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.ngram_vocabulary_size = ngram_vocabulary_size
        self.scale = scale
        self.embedding = keras.layers.Embedding(ngram_vocabulary_size, 1,
                                                embeddings_initializer="zeros", dtype="float32")

    def call(self, ngrams, weights):
        per_ngram = keras.ops.squeeze(self.embedding(ngrams), -1)
        real = keras.ops.cast(keras.ops.not_equal(ngrams, PADDING_ID), "float32")
        return self.scale * keras.ops.sum(per_ngram * weights * real, axis=1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "ngram_vocabulary_size": self.ngram_vocabulary_size,
                "scale": self.scale}


def _embedded(c: TrainerConfig, tokens, vocabulary_size: int, perturbable: bool = True):
    """The embeddings of the right-padded token ids (any length up to sequence_length: length
    buckets cut batches short); `perturbable`, with adversarial training, through the layer that
    perturbs them."""
    embedding = keras.layers.Embedding(vocabulary_size, c.embedding_dim, name=EMBEDDING_LAYER)
    embedded = embedding(tokens)
    if c.adversarial_epsilon and perturbable:
        embedded = adversarial.EmbeddingPerturbation(name=adversarial.PERTURBATION_LAYER)(embedded)
    if c.embedding_dropout:
        embedded = keras.layers.SpatialDropout1D(c.embedding_dropout)(embedded)
    return embedded


def encoder(c: TrainerConfig, vocabulary_size: int) -> keras.Model:
    """What language-model pretraining trains: an embedding like every variant's and an LSTM's
    states over it (those at padding are not used)."""
    tokens = keras.Input(shape=(None,), dtype="int64", name=TOKENS_KEY)
    states = keras.layers.LSTM(c.lstm_units, return_sequences=True)(
        _embedded(c, tokens, vocabulary_size, perturbable=False))
    return keras.Model(tokens, states, name="encoder")


@register("basic")
def basic(c: TrainerConfig, tokens, vocabulary_size: int):
    """Embedding -> LSTM -> Dropout -> Dense relu -> Dropout: the model this project started
    from, masked by reading the LSTM at the last real token."""
    x = _embedded(c, tokens, vocabulary_size)
    x = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True), x, tokens)
    x = keras.layers.Dropout(c.dropout)(x)
    x = keras.layers.Dense(c.dense_units, activation="relu")(x)
    return keras.layers.Dropout(c.dropout)(x)


@register("stacked")
def stacked(c: TrainerConfig, tokens, vocabulary_size: int):
    """Two LSTMs: the first hands its whole sequence to the second."""
    x = _embedded(c, tokens, vocabulary_size)
    x = keras.layers.LSTM(c.lstm_units, return_sequences=True)(x)
    second = keras.layers.LSTM(max(1, c.lstm_units // 2), return_sequences=True)
    x = _last_state(second, x, tokens)
    return keras.layers.Dropout(c.dropout)(x)


@register("bidirectional")
def bidirectional(c: TrainerConfig, tokens, vocabulary_size: int):
    """Reads each review both ways; the backward pass starts at the last real token."""
    x = _embedded(c, tokens, vocabulary_size)
    forward = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True), x, tokens)
    backward = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True),
                           ReversedReviews()(x, tokens), tokens)
    x = keras.layers.Concatenate()([forward, backward])
    return keras.layers.Dropout(c.dropout)(x)


@register("attention")
def attention(c: TrainerConfig, tokens, vocabulary_size: int):
    """LSTM states attend to each other (padding masked out), then are averaged over real
    tokens only."""
    x = _embedded(c, tokens, vocabulary_size)
    real = keras.ops.not_equal(tokens, PADDING_ID)
    states = keras.layers.LSTM(c.lstm_units, return_sequences=True)(x)
    attended = keras.layers.Attention()([states, states], mask=[real, real])
    pooled = MeanOverRealTokens()(attended, real)
    return keras.layers.Dense(c.dense_units, activation="relu")(pooled)


@register("regularized")
def regularized(c: TrainerConfig, tokens, vocabulary_size: int):
    """L2 on the LSTM's input kernel; relies on early stopping (best weights restored)."""
    x = _embedded(c, tokens, vocabulary_size)
    x = _last_state(keras.layers.LSTM(c.lstm_units, return_sequences=True,
                                      kernel_regularizer=keras.regularizers.L2(c.l2)), x, tokens)
    return keras.layers.Dropout(c.dropout)(x)
