"""Language-model pretraining on unlabelled reviews (after Dai & Le, 2015, "Semi-supervised
Sequence Learning"): an embedding and an LSTM learn to predict each next word of reviews that carry
no label, and the classifier then starts from that embedding instead of a random one. Trained from
scratch on 22,500 labelled reviews, every variant overfits within two or three epochs; IMDB's
50,000 unlabelled reviews teach the embedding more words in more contexts. The classifier gains
with the language model's epochs (docs/experiments/2026-12-04-pretraining-epochs.md).

Model code only, like training.py: the Pretrainer (a TFX Trainer) calls `pretrain`; the Trainer
starts from its output (trainer/warm_start.py).
"""
import logging
import os
from typing import List, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft

from trainer import artifacts, callbacks, config, features, input_pipeline, models, training

_log = logging.getLogger(__name__)

# Candidate words per step of the sampled softmax: the full one over 10,000+ words would cost far
# more than the LSTM itself on a CPU. Evaluation uses the full softmax (a true perplexity).
SAMPLED_WORDS = 256


class LanguageModel(keras.Model):
    """Predicts every next token of a review from the tokens before it, through `encoder`."""

    def __init__(self, encoder: keras.Model, vocabulary_size: int, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.vocabulary_size = vocabulary_size
        units = encoder.output.shape[-1]
        self.word_weights = self.add_weight(shape=(vocabulary_size, units),
                                            initializer="glorot_uniform", name="word_weights")
        self.word_biases = self.add_weight(shape=(vocabulary_size,), initializer="zeros",
                                           name="word_biases")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True  # every weight exists: BackupAndRestore needs a built model

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, tokens, training=False):
        return self.encoder(tokens, training=training)

    def _next_token_losses(self, tokens, training: bool):
        """Each position's loss and whether its next token is a real one (1) or padding (0)."""
        states = self(tokens[:, :-1], training=training)
        states = tf.reshape(states, [-1, tf.shape(states)[-1]])
        next_tokens = tf.reshape(tokens[:, 1:], [-1])
        if training:
            losses = tf.nn.sampled_softmax_loss(
                self.word_weights, self.word_biases, next_tokens[:, tf.newaxis], states,
                num_sampled=min(SAMPLED_WORDS, self.vocabulary_size - 1),
                num_classes=self.vocabulary_size)
        else:
            logits = tf.matmul(states, self.word_weights, transpose_b=True) + self.word_biases
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(next_tokens, logits)
        return losses, tf.cast(next_tokens != features.PADDING_ID, losses.dtype)

    def train_step(self, data):
        inputs, _ = data  # the reviews have no labels
        tokens = inputs[features.TOKENS_KEY]
        with tf.GradientTape() as tape:
            losses, real = self._next_token_losses(tokens, training=True)
            loss = tf.reduce_sum(losses * real) / tf.maximum(tf.reduce_sum(real), 1.0)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.loss_tracker.update_state(losses, sample_weight=real)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        inputs, _ = data
        losses, real = self._next_token_losses(inputs[features.TOKENS_KEY], training=False)
        self.loss_tracker.update_state(losses, sample_weight=real)
        return {"loss": self.loss_tracker.result(),
                "perplexity": tf.exp(self.loss_tracker.result())}


def raw_reviews(tf_transform_output: tft.TFTransformOutput,
                label_key: Optional[str] = None) -> input_pipeline.BatchParser:
    """Parses raw tf.Examples and transforms their `review` with the Transform graph, as serving
    does: (the model's inputs, the `label_key` feature, or zeros: unlabelled reviews have no
    label)."""
    transform_layer = tf_transform_output.transform_features_layer()
    spec = {features.REVIEW_KEY: tf.io.FixedLenFeature([], tf.string)}
    if label_key:
        spec[label_key] = tf.io.FixedLenFeature([], tf.int64)

    def parse(records):
        raw = tf.io.parse_example(records, spec)
        transformed = transform_layer({features.REVIEW_KEY: raw[features.REVIEW_KEY]})
        labels = raw[label_key] if label_key else tf.zeros_like(raw[features.REVIEW_KEY],
                                                                 dtype=tf.int64)
        return input_pipeline.model_inputs(transformed), labels
    return parse


def pretrain(trainer_config: config.TrainerConfig, tf_transform_output: tft.TFTransformOutput,
             train_files: List[str], eval_files: List[str], output_dir: str, run_dir: str):
    """Trains the language model for `pretrain_epochs` on raw examples (their `review` only) and
    saves its encoder (embedding and LSTM) to `output_dir`/PRETRAINED_ENCODER_FILE, and the
    vocabulary whose words its token ids are beside it. Returns the epochs' history.

    On one device, whatever the Trainer's strategy: the default strategy places it on the first
    GPU if there is one."""
    keras.utils.set_random_seed(trainer_config.seed)
    strategy = tf.distribute.get_strategy()
    vocabulary_size = input_pipeline.vocabulary_size(trainer_config, tf_transform_output)
    language_model = LanguageModel(models.encoder(trainer_config, vocabulary_size),
                                   vocabulary_size)
    language_model.compile(optimizer=keras.optimizers.Adam(
        learning_rate=trainer_config.pretrain_learning_rate, clipnorm=trainer_config.clipnorm))
    sources = sorted({os.path.dirname(os.path.dirname(p)) for p in train_files + eval_files})
    _log.info("pretraining a language model for %d epochs, vocabulary %d ids, on the reviews "
              "of %s", trainer_config.pretrain_epochs, vocabulary_size, ", ".join(sources))
    parse = raw_reviews(tf_transform_output)

    def data(files, shuffle):
        return lambda input_context=None: input_pipeline.dataset(
            files, parse, trainer_config, trainer_config.batch_size, shuffle, input_context)

    history = training.fit(
        language_model, strategy, trainer_config, trainer_config.pretrain_epochs,
        data(train_files, shuffle=True), data(eval_files, shuffle=False), run_dir,
        train_files + eval_files + [tf_transform_output.transform_savedmodel_dir],
        early_stopping_metric="loss")  # next-word loss; the classifier's metric does not apply
    tf.io.gfile.makedirs(output_dir)
    language_model.encoder.save(os.path.join(output_dir, artifacts.PRETRAINED_ENCODER_FILE))
    tf.io.gfile.copy(tf_transform_output.vocabulary_file_by_name(features.VOCABULARY_NAME),
                     os.path.join(output_dir, artifacts.PRETRAINED_VOCABULARY_FILE), overwrite=True)
    callbacks.write_history(run_dir, history)
    _log.info("saved the pretrained encoder to %s (held-out perplexity %.1f)", output_dir,
              min(history["val_perplexity"]))
    return history
