"""The SavedModel the Pusher ships: the trained model behind the tf.Transform graph, so it scores
raw review text, with two signatures and the settings and threshold it was trained with."""
import json
import os
import tempfile
from typing import Any, Mapping

import keras
import tensorflow as tf
import tensorflow_transform as tft

from trainer import artifacts, calibration, config, features, input_pipeline

RAW_TEXT_SIGNATURE = "serving_raw_text"


class ServingModule(tf.Module):
    """The model's score for raw reviews, shifted so that 0.5 is the decision threshold
    (trainer/calibration.py)."""

    def __init__(self, model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                 threshold: float):
        super().__init__()
        self.model = model
        self.transform_layer = tf_transform_output.transform_features_layer()
        self.threshold = threshold

    def _score(self, reviews: tf.Tensor):
        transformed = self.transform_layer({features.REVIEW_KEY: reviews})
        probabilities = self.model(input_pipeline.model_inputs(transformed), training=False)
        return {features.PREDICTION_KEY: calibration.served_score(probabilities, self.threshold)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, serialized_examples):
        """Serialized tf.Examples carrying the raw `review` feature -> probability of positive."""
        parsed = tf.io.parse_example(
            serialized_examples,
            {features.REVIEW_KEY: tf.io.FixedLenFeature([], tf.string, default_value="")})
        return self._score(parsed[features.REVIEW_KEY])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="review")])
    def serve_text(self, reviews):
        """A batch of raw review strings -> probability of positive."""
        return self._score(reviews)


def export_serving_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                         export_dir: str, threshold: float = calibration.NEUTRAL) -> None:
    module = ServingModule(model, tf_transform_output, threshold)
    signatures = {
        "serving_default": module.serve_examples.get_concrete_function(),
        RAW_TEXT_SIGNATURE: module.serve_text.get_concrete_function(),
    }
    # Keras 3 wraps each tf.Variable; unless the tf.Variables the signatures capture are tracked
    # themselves, the SavedModel loads in Python but not in the C++/TF1 loader that TF Serving and
    # saved_model_cli use ("Could not find variable embedding/embeddings"; keras-team/keras#19274).
    # Keras' own ExportArchive tracks them the same way.
    module.captured_variables = list(
        {id(v): v for fn in signatures.values() for v in fn.variables}.values())
    tf.saved_model.save(module, export_dir, signatures=signatures)


def write_assets(export_dir: str, trainer_config: config.TrainerConfig,
                 fitted_threshold: Mapping[str, Any]) -> None:
    """Beside the model: its settings and its decision threshold (artifacts.CONFIG_ASSET,
    artifacts.CALIBRATION_ASSET)."""
    for asset, content in ((artifacts.CONFIG_ASSET, trainer_config.to_dict()),
                           (artifacts.CALIBRATION_ASSET, dict(fitted_threshold))):
        path = os.path.join(export_dir, asset)
        tf.io.gfile.makedirs(os.path.dirname(path))
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(content, f, indent=2, sort_keys=True)


def save_for_warm_start(model: keras.Model, export_dir: str,
                        tf_transform_output: tft.TFTransformOutput,
                        trainer_config: config.TrainerConfig) -> None:
    """The Keras weights and the vocabularies their ids stand for, in the export
    (artifacts.WARM_START_DIR): Keras 3 cannot load the tf.Module SavedModel back."""
    directory = os.path.join(export_dir, artifacts.WARM_START_DIR)
    tf.io.gfile.makedirs(directory)
    with tempfile.TemporaryDirectory() as scratch:  # Keras writes local files only
        local = os.path.join(scratch, artifacts.WEIGHTS_FILE)
        model.save_weights(local)
        tf.io.gfile.copy(local, os.path.join(directory, artifacts.WEIGHTS_FILE), overwrite=True)
    vocabularies = {features.VOCABULARY_NAME: artifacts.VOCABULARY_FILE}
    if input_pipeline.ngram_vocabulary_size(trainer_config, tf_transform_output):
        vocabularies[features.NGRAM_VOCABULARY_NAME] = artifacts.NGRAM_VOCABULARY_FILE
    for name, file in vocabularies.items():
        tf.io.gfile.copy(tf_transform_output.vocabulary_file_by_name(name),
                         os.path.join(directory, file), overwrite=True)
