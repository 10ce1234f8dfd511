"""A pipeline run's model scored here, on the raw examples of one of its splits: the independent
truth against which the report's numbers (read from TFMA and history.json) are checked."""
import glob
import os

import numpy as np
import tensorflow as tf
from sklearn import metrics


def split_examples(examples_uri, split):
    """ExampleGen's serialized tf.Examples of `split` and their labels."""
    files = glob.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    serialized = [record.numpy() for record in
                  tf.data.TFRecordDataset(files, compression_type="GZIP")]
    labels = [tf.train.Example.FromString(example).features.feature["label"].int64_list.value[0]
              for example in serialized]
    return serialized, np.array(labels)


def served_scores(model_uri, serialized):
    """The scores the exported model serves for `serialized` examples (serving_default)."""
    model = tf.saved_model.load(os.path.join(model_uri, "Format-Serving"))
    scores = model.signatures["serving_default"](examples=tf.constant(serialized))
    return np.ravel(scores["probabilities"].numpy()).astype(np.float64)


def log_loss(scores, labels):
    """Keras' binary cross-entropy: scores clipped to [1e-7, 1 - 1e-7]."""
    return metrics.log_loss(labels, np.clip(scores, 1e-7, 1 - 1e-7), labels=[0, 1])


def classification(scores, labels):
    """What TFMA computes at the 0.5 threshold, computed from the scores themselves."""
    predicted = scores > 0.5
    positive = labels.astype(bool)
    return {
        "example_count": len(labels),
        "binary_accuracy": float(np.mean(predicted == positive)),
        "precision": metrics.precision_score(positive, predicted, zero_division=0),
        "recall": metrics.recall_score(positive, predicted, zero_division=0),
        "auc": metrics.roc_auc_score(positive, scores),
        "binary_crossentropy": log_loss(scores, labels),
        "calibration": float(np.sum(scores) / np.sum(labels)),
        "truePositives": int(np.sum(predicted & positive)),
        "falsePositives": int(np.sum(predicted & ~positive)),
        "trueNegatives": int(np.sum(~predicted & ~positive)),
        "falseNegatives": int(np.sum(~predicted & positive)),
    }
