"""Adversarial training on the embeddings (trainer/adversarial.py): the perturbation's length and
direction, that it raises the loss more than a random step of the same length, and that only
training steps see it."""
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainer import adversarial, distributed_loop, models, training
from trainer.config import TrainerConfig
from trainer.features import TOKENS_KEY

VOCABULARY = 40


def tiny(epsilon: float) -> keras.Model:
    c = dataclasses.replace(TrainerConfig(), adversarial_epsilon=epsilon, ngram_vocab_size=0,
                            embedding_dim=8, lstm_units=4, dense_units=4, dropout=0.0)
    keras.utils.set_random_seed(0)
    return models.build(c, VOCABULARY)


def reviews(count=16, length=10, seed=0):
    generator = np.random.default_rng(seed)
    tokens = generator.integers(1, VOCABULARY, size=(count, length))
    tokens[::3, length // 2:] = 0  # some reviews right-padded, as Transform writes them
    return {TOKENS_KEY: tf.constant(tokens, tf.int64)}, tf.constant(
        generator.integers(0, 2, size=(count,)), tf.int64)


def test_the_step_has_epsilon_times_each_reviews_norm_along_its_gradient():
    embedded = np.random.default_rng(1).normal(size=(3, 5, 4)).astype(np.float32)
    gradient = np.random.default_rng(2).normal(size=(3, 5, 4)).astype(np.float32)
    step = adversarial.perturbation(tf.constant(embedded), tf.constant(gradient), 0.1).numpy()
    for e, g, r in zip(embedded, gradient, step):
        e, g, r = e.ravel(), g.ravel(), r.ravel()
        assert np.linalg.norm(r) == pytest.approx(0.1 * np.linalg.norm(e), rel=1e-5)
        assert r @ g / (np.linalg.norm(r) * np.linalg.norm(g)) == pytest.approx(1.0, abs=1e-5)


def _losses(model, x, y, step_of):
    """The loss on the reviews, and with their embeddings moved by step_of(embedded, gradient)."""
    layer = model.get_layer(adversarial.PERTURBATION_LAYER)
    loss_fn = keras.losses.BinaryCrossentropy()
    labels = tf.cast(tf.reshape(y, [-1, 1]), tf.float32)

    @tf.function
    def losses():
        clean = loss_fn(labels, model(x, training=True))
        [gradient] = tf.gradients(clean, [layer.received])
        layer.perturbation = step_of(layer.received, gradient)
        try:
            moved = loss_fn(labels, model(x, training=True))
        finally:
            layer.perturbation = None
        return clean, moved
    return [float(t) for t in losses()]


def test_the_adversarial_step_raises_the_loss_more_than_a_random_one_of_its_length():
    model, (x, y) = tiny(0.05), reviews()
    clean, adversarial_loss = _losses(
        model, x, y, lambda e, g: adversarial.perturbation(e, g, 0.05))
    random_direction = tf.random.stateless_normal([16, 10, 8], seed=[1, 2])
    _, random_loss = _losses(
        model, x, y, lambda e, g: adversarial.perturbation(e, random_direction, 0.05))
    assert adversarial_loss > clean
    assert adversarial_loss - clean > 5 * abs(random_loss - clean)


def test_a_training_step_adds_the_loss_on_the_perturbed_reviews_and_evaluation_does_not():
    model, (x, y) = tiny(0.05), reviews()
    y_pred = model(x, training=False)

    @tf.function
    def step_losses():
        training = model.compute_loss(x, y, model(x, training=True), training=True)
        evaluation = model.compute_loss(x, y, model(x, training=False), training=False)
        return training, evaluation
    training, evaluation = (float(t) for t in step_losses())
    clean = float(keras.losses.BinaryCrossentropy()(tf.reshape(tf.cast(y, tf.float32), [-1, 1]),
                                                    y_pred))
    assert evaluation == pytest.approx(clean, rel=1e-5)
    # Clean plus adversarial: more than twice the clean loss, as the perturbed loss is higher.
    assert training > 2 * clean
    # Predictions never see a perturbation: the same as a model without the layer's effect.
    assert model.get_layer(adversarial.PERTURBATION_LAYER).perturbation is None
    np.testing.assert_allclose(model.predict(x, verbose=0), y_pred.numpy(), rtol=1e-6)


def test_fit_trains_with_it_and_the_weights_match_a_plain_model_layer_for_layer():
    model, (x, y) = tiny(0.05), reviews()
    plain = tiny(0.0)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in plain.get_weights()]
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    # Backups and warm start save weights only: a plain model takes them as they are.
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(plain.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_the_multi_replica_loop_refuses_it_in_one_sentence(monkeypatch, tmp_path):
    # That loop computes its own loss, never compute_loss: it would train without the term.
    monkeypatch.setattr(distributed_loop, "is_needed", lambda strategy: True)
    c = dataclasses.replace(TrainerConfig(), adversarial_epsilon=0.05, ngram_vocab_size=0)
    with pytest.raises(ValueError, match="trainer.adversarial_epsilon: adversarial training runs "
                                         "under Model.fit"):
        training.fit(tiny(0.05), tf.distribute.get_strategy(), c, 1, None, None,
                     str(tmp_path), [], "accuracy")
