"""Adversarial training on the word embeddings (Miyato, Dai & Goodfellow 2016): each training
step adds to the loss on the reviews the loss on the same reviews with their embedded words moved
a small step in the direction that raises the loss most,

    r_adv = epsilon * |e| * g / |g|,  g = d loss / d e,

e the embedded review and |.| the L2 norm over the review (its steps up to the batch's length,
padding included, and its dimensions). Miyato normalizes the embedding so that the model cannot
outgrow a fixed epsilon by scaling its embeddings up; here the step is that fraction of the
review's own embedding norm instead, for the same effect without changing the embedding. Only
training steps see the perturbation: evaluation, export and serving run the model unchanged. The
training loss the epoch log shows is the sum of the two.

The gradient with respect to the embedded review is taken with `tf.gradients`, in the graph of the
training step that Model.fit traces (the multi-replica loop of trainer/distributed_loop.py does not
call compute_loss: training.fit refuses the two together). It costs one more forward and backward
pass a step.
"""
import keras
import tensorflow as tf

# The layer after the embedding that adds the perturbation in an adversarial step.
PERTURBATION_LAYER = "adversarial_perturbation"


class EmbeddingPerturbation(keras.layers.Layer):
    """The identity, except in an adversarial training step: adds the perturbation that step set.
    Keeps the embedded review it last received, for the step to take the gradient against."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.received = None
        self.perturbation = None

    def call(self, embedded):
        self.received = embedded
        if self.perturbation is None:
            return embedded
        return embedded + tf.cast(self.perturbation, embedded.dtype)


def perturbation(embedded: tf.Tensor, gradient: tf.Tensor, epsilon: float) -> tf.Tensor:
    """The step of length `epsilon` times each review's embedding norm along its gradient; a
    constant to the training step."""
    def norm(t):
        return tf.sqrt(tf.reduce_sum(tf.square(tf.cast(t, tf.float32)), axis=[1, 2],
                                     keepdims=True))
    direction = tf.cast(gradient, tf.float32) / (norm(gradient) + 1e-12)
    return tf.stop_gradient(epsilon * norm(embedded) * direction)


def adversarial_loss(model: keras.Model, x, y, clean_loss: tf.Tensor, epsilon: float,
                     sample_weight=None) -> tf.Tensor:
    """The loss on `x` with each review's embedding moved against `model`, from the gradient of
    `clean_loss`, which `model`'s last forward pass on `x` gave."""
    layer = model.get_layer(PERTURBATION_LAYER)
    [gradient] = tf.gradients(clean_loss, [layer.received])
    layer.perturbation = perturbation(layer.received, gradient, epsilon)
    try:
        perturbed = model(x, training=True)
    finally:
        layer.perturbation = None
    y = tf.cast(tf.reshape(y, [-1, 1]), perturbed.dtype)
    return keras.losses.BinaryCrossentropy()(y, perturbed, sample_weight)


class AdversarialModel(keras.Model):
    """A functional model whose training loss adds the adversarial term
    (`adversarial_epsilon` of the trainer config, > 0). The project saves weights only (backups,
    warm start), never this class's config."""

    def __init__(self, *args, adversarial_epsilon: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.adversarial_epsilon = adversarial_epsilon

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        if not training:
            return loss
        return loss + adversarial_loss(self, x, y, loss, self.adversarial_epsilon,
                                       sample_weight)
