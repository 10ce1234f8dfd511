"""Warm start from the serving model (trainer/warm_start.py), weight by weight: every layer's
weights as the serving model had them, embedding rows matched by word and the wide part's by
n-gram across two different vocabularies; and the fall-back to training from scratch."""
import json
import logging
import os

import numpy as np
import pytest
import tensorflow_transform as tft

import transformed_data
from trainer import artifacts, config, export, features, input_pipeline, models, warm_start

CONFIG = config.TrainerConfig(vocab_size=8, sequence_length=8, embedding_dim=4, lstm_units=3,
                              dense_units=3, ngram_vocab_size=12)
# Two windows of reviews whose vocabularies overlap in part and rank their words differently.
SERVING_WINDOW = ["great film great cast", "dull film", "great plot", "dull dull script",
                  "cast and plot"]
NEW_WINDOW = ["boring film", "boring boring plot", "great film", "boring script", "film film"]


def transform(texts, workdir) -> tft.TFTransformOutput:
    raw = [{"review": text.encode(), "label": i % 2, "rating": 8 if i % 2 else 2}
           for i, text in enumerate(texts)]
    _, transform_dir = transformed_data.analyze_and_transform(raw, CONFIG, workdir)
    return tft.TFTransformOutput(transform_dir)


def model_for(transform_output, trainer_config=CONFIG):
    return models.build(trainer_config,
                        input_pipeline.vocabulary_size(trainer_config, transform_output),
                        input_pipeline.ngram_vocabulary_size(trainer_config, transform_output))


def entries(transform_output, name):
    with open(transform_output.vocabulary_file_by_name(name)) as f:
        lines = f.read().splitlines()
    return [line.split(" ", 1)[1] if name == features.NGRAM_VOCABULARY_NAME else line
            for line in lines]


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    """(the serving model's transform, the serving directory, the serving model), and the new
    window's transform."""
    serving_transform = transform(SERVING_WINDOW, str(tmp_path_factory.mktemp("serving_tft")))
    new_transform = transform(NEW_WINDOW, str(tmp_path_factory.mktemp("new_tft")))
    serving = model_for(serving_transform)
    rng = np.random.default_rng(0)
    serving.set_weights([rng.normal(0, 1, w.shape) for w in serving.get_weights()])
    serving_dir = tmp_path_factory.mktemp("serving")
    export_as_trainer_does(serving, str(serving_dir / "1700000000"), serving_transform, CONFIG)
    return serving_transform, str(serving_dir), serving, new_transform


def export_as_trainer_does(model, version_dir, transform_output, trainer_config):
    """What warm start reads of an export: the weights, the vocabularies and the settings."""
    export.save_for_warm_start(model, version_dir, transform_output, trainer_config)
    export.write_assets(version_dir, trainer_config, {})


def test_every_weight_comes_from_the_serving_model_rows_matched_by_word(windows):
    serving_transform, serving_dir, serving, new_transform = windows
    model = model_for(new_transform)
    fresh = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    assert warm_start.start_from_serving(model, serving_dir, CONFIG, new_transform) == \
        f"{serving_dir}/1700000000"
    for layer, source in zip(model.layers, serving.layers):
        if layer.name not in (models.EMBEDDING_LAYER, models.WIDE_LAYER):
            for own, theirs in zip(layer.get_weights(), source.get_weights()):
                np.testing.assert_array_equal(own, theirs)
    for layer, name in ((models.EMBEDDING_LAYER, features.VOCABULARY_NAME),
                        (models.WIDE_LAYER, features.NGRAM_VOCABULARY_NAME)):
        theirs = dict(zip(entries(serving_transform, name),
                          serving.get_layer(layer).get_weights()[0][1:]))
        [own] = model.get_layer(layer).get_weights()
        [before] = fresh[layer]
        new_entries = entries(new_transform, name)
        assert {"film", "great"} <= set(new_entries) and "boring" in new_entries
        for row, entry in enumerate(new_entries, start=1):
            expected = theirs[entry] if entry in theirs else before[row]  # unknown: kept fresh
            np.testing.assert_array_equal(own[row], expected, err_msg=f"{layer} {entry!r}")
        np.testing.assert_array_equal(own[0], serving.get_layer(layer).get_weights()[0][0])


def test_a_serving_model_that_does_not_fit_leaves_the_model_to_train_from_scratch(
        windows, caplog):
    _, serving_dir, _, new_transform = windows
    other = config.TrainerConfig(**{**CONFIG.to_dict(), "variant": "stacked"})
    model = model_for(new_transform, other)
    before = [w.copy() for w in model.get_weights()]
    with caplog.at_level(logging.WARNING):
        assert warm_start.start_from_serving(model, serving_dir, other, new_transform) is None
    assert "training from scratch: the serving model" in caplog.text
    assert "does not fit this configuration" in caplog.text
    for own, initial in zip(model.get_weights(), before):
        np.testing.assert_array_equal(own, initial)


@pytest.mark.parametrize("former_settings", ["scale 10", "from before the setting"])
def test_the_wide_weights_keep_the_serving_models_logit_under_another_scale(
        windows, tmp_path, former_settings):
    """The wide logit is scale x weights: a serving model trained at scale 10 (or exported
    before the scale was a setting, when it was 10) hands a model at 30 a third of its weights."""
    serving_transform, _, serving, new_transform = windows
    version = str(tmp_path / "1700000000")
    former = config.TrainerConfig(**{**CONFIG.to_dict(), "wide_learning_rate_scale": 10.0})
    export_as_trainer_does(serving, version, serving_transform, former)
    if former_settings == "from before the setting":
        path = os.path.join(version, artifacts.CONFIG_ASSET)
        with open(path) as f:
            settings = json.load(f)
        del settings["wide_learning_rate_scale"]
        with open(path, "w") as f:
            json.dump(settings, f)
    model = model_for(new_transform)
    assert CONFIG.wide_learning_rate_scale == 30.0
    warm_start.start_from_serving(model, str(tmp_path), CONFIG, new_transform)
    theirs = dict(zip(entries(serving_transform, features.NGRAM_VOCABULARY_NAME),
                      serving.get_layer(models.WIDE_LAYER).get_weights()[0][1:]))
    [own] = model.get_layer(models.WIDE_LAYER).get_weights()
    shared = [(row, entry) for row, entry in enumerate(
        entries(new_transform, features.NGRAM_VOCABULARY_NAME), start=1) if entry in theirs]
    assert shared
    for row, entry in shared:
        np.testing.assert_allclose(own[row], theirs[entry] / 3, rtol=1e-6, err_msg=entry)
