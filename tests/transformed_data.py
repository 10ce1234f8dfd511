"""Runs the real preprocessing_fn with tf.Transform's Beam implementation on small raw data."""
import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from trainer import config, features, preprocessing

RAW_METADATA = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
    features.REVIEW_KEY: tf.io.FixedLenFeature([], tf.string),
    features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    features.RATING_KEY: tf.io.FixedLenFeature([], tf.int64),
}))


def analyze_and_transform(raw: List[Dict], trainer_config: config.TrainerConfig,
                          workdir: str) -> Tuple[List[Dict], str]:
    """Transformed rows and the directory of the transform graph (a TFTransformOutput)."""
    custom_config = {config.CUSTOM_CONFIG_KEY: trainer_config.to_dict()}
    with tft_beam.Context(temp_dir=os.path.join(workdir, "tft_tmp")):
        (rows, _), transform_fn = (raw, RAW_METADATA) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, custom_config))
    transform_dir = os.path.join(workdir, "transform_fn")
    transform_fn | tft_beam.WriteTransformFn(transform_dir)
    return rows, transform_dir


def _feature(values) -> tf.train.Feature:
    values = np.ravel(np.asarray(values))
    if values.dtype.kind == "f":
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values.astype(np.int64)))


def write_examples(rows: List[Dict], path: str) -> str:
    """Transformed rows as Transform writes them: every feature of each row."""
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for row in rows:
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                key: _feature(value) for key, value in row.items()})).SerializeToString())
    return path
