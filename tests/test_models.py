"""Model builders: shapes, padding, and the cuDNN-compatible LSTM arguments."""
import warnings

import keras
import numpy as np
import pytest

from trainer import models, warm_start
from trainer.config import TrainerConfig
from trainer.features import TOKENS_KEY

CONFIG = TrainerConfig(sequence_length=12, embedding_dim=8, lstm_units=4, dense_units=4)
VOCABULARY = 50


@pytest.mark.parametrize("variant", models.variants())
def test_variant_outputs_one_probability_per_review(variant):
    model = models.build(TrainerConfig(**{**CONFIG.to_dict(), "variant": variant}), VOCABULARY)
    tokens = np.random.default_rng(0).integers(1, VOCABULARY, size=(3, CONFIG.sequence_length))
    probabilities = model.predict({TOKENS_KEY: tokens}, verbose=0)
    assert probabilities.shape == (3, 1)
    assert ((probabilities > 0) & (probabilities < 1)).all()


@pytest.mark.parametrize("embedding_dropout", [0.0, 0.3])
@pytest.mark.parametrize("variant", models.variants())
def test_padding_changes_no_score(variant, embedding_dropout):
    """A review scores the same alone, unpadded, as padded in a batch of reviews of other
    lengths."""
    config = TrainerConfig(**{**CONFIG.to_dict(), "variant": variant,
                              "embedding_dropout": embedding_dropout})
    model = models.build(config, VOCABULARY)
    reviews = [[5, 6, 7, 8], [9, 3], [4, 4, 2, 7, 1, 3, 5, 8, 9, 2, 6, 7]]
    padded = np.array([r + [0] * (CONFIG.sequence_length - len(r)) for r in reviews])
    in_batch = model.predict({TOKENS_KEY: padded}, verbose=0)
    for review, score in zip(reviews, in_batch):
        alone = model.predict({TOKENS_KEY: np.array([review])}, verbose=0)
        np.testing.assert_allclose(alone[0], score, rtol=1e-5)


def test_mean_over_real_tokens_skips_padding_and_is_zero_for_an_empty_review():
    steps = np.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]],
                      [[5.0, 5.0], [7.0, 7.0], [7.0, 7.0]]], "float32")
    real = np.array([[True, True, False], [False, False, False]])
    means = np.asarray(models.MeanOverRealTokens()(steps, real))
    np.testing.assert_array_equal(means, [[2.0, 3.0], [0.0, 0.0]])


@pytest.mark.parametrize("variant", models.variants())
def test_building_a_variant_warns_of_nothing(variant):
    """Keras warns when a layer drops a mask it does not handle: a line in every Trainer log."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = models.build(TrainerConfig(**{**CONFIG.to_dict(), "variant": variant}),
                             VOCABULARY)
    assert model.output_shape == (None, 1)


@pytest.mark.parametrize("variant", models.variants())
def test_an_empty_review_gets_a_probability(variant):
    """Nothing but padding (a review of only punctuation tokenizes to nothing)."""
    model = models.build(TrainerConfig(**{**CONFIG.to_dict(), "variant": variant}), VOCABULARY)
    probability = model.predict({TOKENS_KEY: np.zeros((1, CONFIG.sequence_length), "int64")},
                                verbose=0)
    assert 0 < probability[0, 0] < 1


@pytest.mark.parametrize("variant", models.variants())
def test_every_lstm_keeps_the_cudnn_kernel_arguments(variant):
    model = models.build(TrainerConfig(**{**CONFIG.to_dict(), "variant": variant}), VOCABULARY)
    lstms = [l for l in model.layers if isinstance(l, keras.layers.LSTM)]
    assert len(lstms) == (2 if variant in ("stacked", "bidirectional") else 1)
    for lstm in lstms:
        assert lstm.activation is keras.activations.tanh
        assert lstm.recurrent_activation is keras.activations.sigmoid
        assert lstm.recurrent_dropout == 0
        assert not lstm.unroll and lstm.use_bias


@pytest.mark.parametrize("variant", models.variants())
def test_embedding_dropout_drops_whole_embedding_dimensions(variant):
    config = TrainerConfig(**{**CONFIG.to_dict(), "variant": variant, "embedding_dropout": 0.5})
    model = models.build(config, VOCABULARY)
    dropout = model.layers[2]
    assert isinstance(model.layers[1], keras.layers.Embedding)
    assert isinstance(dropout, keras.layers.SpatialDropout1D) and dropout.rate == 0.5
    embedded = np.ones((2, 6, CONFIG.embedding_dim), "float32")
    dropped = keras.ops.convert_to_numpy(dropout(embedded, training=True))
    # The same dimensions are dropped at every position of a review.
    assert (dropped == 0).any() and (dropped == dropped[:, :1, :]).all()


def test_basic_is_the_seed_architecture():
    model = models.build(TrainerConfig(), 10_002)
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds == ["InputLayer", "Embedding", "LSTM", "LastRealState", "Dropout", "Dense",
                     "Dropout", "Dense", "Activation"]
    assert model.layers[1].output_dim == 128 and model.layers[2].units == 64
    assert model.layers[5].units == 32 and model.layers[4].rate == 0.5
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-3)



@pytest.mark.parametrize("variant", models.variants())
def test_mixed_precision_computes_in_float16_and_answers_in_float32(variant):
    config = TrainerConfig(**{**CONFIG.to_dict(), "variant": variant, "precision": "mixed_float16"})
    model = models.build(config, VOCABULARY)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left alone
    lstms = [l for l in model.layers if isinstance(l, keras.layers.LSTM)]
    assert lstms and all(l.compute_dtype == "float16" and l.variable_dtype == "float32"
                         for l in lstms)
    assert model.output.dtype == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, VOCABULARY, size=(16, CONFIG.sequence_length))
    history = model.fit({TOKENS_KEY: tokens}, rng.integers(0, 2, 16), batch_size=8, epochs=2,
                        verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("variant", models.variants())
def test_every_variant_starts_from_the_pretrained_embedding(variant, tmp_path):
    encoder = models.encoder(CONFIG, VOCABULARY)
    encoder.save(str(tmp_path / "encoder.keras"))
    model = models.build(TrainerConfig(**{**CONFIG.to_dict(), "variant": variant}), VOCABULARY)
    before = {w.path: w.numpy() for w in model.weights}
    warm_start.copy_embedding(model, str(tmp_path / "encoder.keras"))
    embedding = model.get_layer(models.EMBEDDING_LAYER)
    np.testing.assert_array_equal(embedding.get_weights()[0],
                                  encoder.get_layer(models.EMBEDDING_LAYER).get_weights()[0])
    assert not np.array_equal(embedding.get_weights()[0], before[embedding.embeddings.path])
    for weight in model.weights:  # everything else starts fresh
        if weight.path != embedding.embeddings.path:
            np.testing.assert_array_equal(weight.numpy(), before[weight.path])


def test_warm_start_refuses_an_encoder_of_other_sizes(tmp_path):
    other = TrainerConfig(**{**CONFIG.to_dict(), "embedding_dim": CONFIG.embedding_dim * 2})
    models.encoder(other, VOCABULARY).save(str(tmp_path / "encoder.keras"))
    model = models.build(CONFIG, VOCABULARY)
    expected = (rf"the pretrained embedding \({VOCABULARY} ids x {other.embedding_dim}\) does "
                rf"not fit 'basic' \({VOCABULARY} ids x {CONFIG.embedding_dim}\)")
    with pytest.raises(ValueError, match=expected):
        warm_start.copy_embedding(model, str(tmp_path / "encoder.keras"))
    models.encoder(CONFIG, VOCABULARY - 1).save(str(tmp_path / "smaller.keras"))
    with pytest.raises(ValueError, match=f"{VOCABULARY - 1} ids x {CONFIG.embedding_dim}"):
        warm_start.copy_embedding(model, str(tmp_path / "smaller.keras"))
