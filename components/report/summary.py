"""The numbers of one pipeline run, read from its artifacts into one JSON-ready dict.

The report component calls `summarize` with its input artifacts; `imdb-lstm report` calls it with
the same artifacts found in ML Metadata, so a re-rendered report is the report. Every section
tolerates a run that stopped early: what the run did not produce is None.
"""
import dataclasses
import datetime
import json
import math
import os
from typing import Any, Dict, List, Optional

import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
import tensorflow_transform as tft
from tensorflow_model_analysis.writers import eval_config_writer
from tfx.dsl.io import fileio

from components.anomalies_gate import read_anomalies
from components.drift_gate import read_drift
from components.artifact_dirs import split_dirs
from components.imdb_example_gen import TEST_SPLIT
from components.span_example_gen import SPAN_HOLDOUT_SPLIT
from trainer import features
from trainer.artifacts import CALIBRATION_ASSET, CONFIG_ASSET, HISTORY_FILE
from trainer.config import EARLY_STOPPING_MODES

SCHEMA_VERSION = 1
EVALUATED_SPLIT = TEST_SPLIT
# On spans, the gate also judges on the newest span's held-out reviews (SpanEvaluator).
SPAN_CHECK_SPLIT = SPAN_HOLDOUT_SPLIT
SPAN_CHECK_METRICS = ("example_count", "binary_accuracy", "auc", "precision", "recall",
                      "binary_crossentropy")
# Metrics shown per slice: what the SlicedEvaluator computes (pipeline/evaluation.py).
SLICE_METRICS = ("example_count", "binary_accuracy", "mean_label", "mean_prediction",
                 "binary_crossentropy")
CALIBRATION_BINS = 20
# The table of overall metrics, in reading order.
OVERALL_METRICS = ("example_count", "binary_accuracy", "auc", "auc_precision_recall", "precision",
                   "recall", "binary_crossentropy", "mean_label", "mean_prediction", "calibration")


@dataclasses.dataclass
class ReportInputs:
    """Where a run's artifacts are; None for what the run did not produce."""

    run_id: str
    pipeline_config: Optional[Dict[str, Any]] = None
    code_version: Optional[str] = None
    data_source: Optional[str] = None
    statistics_uri: Optional[str] = None
    anomalies_uri: Optional[str] = None
    drift_uri: Optional[str] = None
    transform_graph_uri: Optional[str] = None
    transformed_examples_uri: Optional[str] = None
    model_uri: Optional[str] = None
    model_run_uri: Optional[str] = None
    evaluation_uri: Optional[str] = None
    span_evaluation_uri: Optional[str] = None
    sliced_evaluation_uri: Optional[str] = None
    blessing_uri: Optional[str] = None
    baseline_model_uri: Optional[str] = None
    # The PushedModel's custom properties: pushed, pushed_version, pushed_destination, ...
    push: Optional[Dict[str, Any]] = None


def summarize(inputs: ReportInputs) -> Dict[str, Any]:
    trainer_config = _trainer_config(inputs)
    test = inputs.evaluation_uri and evaluated(inputs.evaluation_uri, EVALUATED_SPLIT)
    span = inputs.span_evaluation_uri and evaluated(inputs.span_evaluation_uri,
                                                     SPAN_CHECK_SPLIT)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": inputs.run_id,
            "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "code_version": inputs.code_version,
            "data_source": inputs.data_source,
            "variant": trainer_config.get("variant"),
            "strategy": trainer_config.get("strategy"),
            "config": inputs.pipeline_config,
        },
        "data": _data(inputs, trainer_config),
        "drift": _drift(inputs.drift_uri) if inputs.drift_uri else None,
        "training": _training(inputs, trainer_config),
        "evaluation": _evaluation(test, inputs.sliced_evaluation_uri) if test else None,
        "span_check": _span_check(span) if span else None,
        "gate": _gate(inputs, test.thresholds + (span.thresholds if span else []))
                if test else None,
    }


def _trainer_config(inputs: ReportInputs) -> Dict[str, Any]:
    if inputs.pipeline_config and inputs.pipeline_config.get("trainer"):
        return inputs.pipeline_config["trainer"]
    return _serving_asset(inputs.model_uri, CONFIG_ASSET) or {}


def _serving_asset(model_uri: Optional[str], asset: str) -> Optional[Dict[str, Any]]:
    """One of the JSON files the Trainer writes next to the SavedModel."""
    path = model_uri and os.path.join(model_uri, "Format-Serving", asset)
    if not path or not fileio.exists(path):
        return None
    with fileio.open(path) as f:
        return json.load(f)


def _finite(value: float) -> Optional[float]:
    return value if value is not None and math.isfinite(value) else None


# --- data -------------------------------------------------------------------------------------

def _data(inputs: ReportInputs, trainer_config: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    if not inputs.statistics_uri:
        return None
    data: Dict[str, Any] = {
        "splits": {split: _split_statistics(os.path.join(path, "FeatureStats.pb"))
                   for split, path in split_dirs(inputs.statistics_uri).items()},
        "length_buckets": features.length_buckets(),
        "anomalies": _anomalies(inputs.anomalies_uri) if inputs.anomalies_uri else None,
        "vocabulary_size": None, "coverage_split": None, "oov_rate": None,
        "truncated_fraction": None,
        "sequence_length": trainer_config.get("sequence_length"),
    }
    if inputs.transform_graph_uri:
        transform_output = tft.TFTransformOutput(inputs.transform_graph_uri)
        data["vocabulary_size"] = transform_output.vocabulary_size_by_name(
            features.VOCABULARY_NAME)
        if inputs.transformed_examples_uri:
            data.update(_token_coverage(transform_output, inputs.transformed_examples_uri,
                                        data["vocabulary_size"]))
    return data


def _feature(dataset, name):
    return next((f for f in dataset.features if f.path.step and f.path.step[0] == name), None)


def _split_statistics(path: str) -> Dict[str, Any]:
    dataset = tfdv.load_stats_binary(path).datasets[0]
    label = _feature(dataset, features.LABEL_KEY)
    words = _feature(dataset, features.WORD_COUNT_KEY)
    buckets = _feature(dataset, features.LENGTH_BUCKET_KEY)
    result: Dict[str, Any] = {
        "examples": int(dataset.num_examples),
        # Labels are 0/1, so their mean is the share of positive reviews.
        "positive_fraction": label.num_stats.mean if label else None,
        "words": None, "length_buckets": None,
    }
    if words:
        stats = words.num_stats
        deciles = next((h for h in stats.histograms
                        if h.type == h.QUANTILES), None)
        result["words"] = {
            "mean": stats.mean, "median": stats.median, "min": stats.min, "max": stats.max,
            "deciles": [b.high_value for b in deciles.buckets][:-1] if deciles else None,
        }
    if buckets:
        result["length_buckets"] = {b.label: int(b.sample_count)
                                    for b in buckets.string_stats.rank_histogram.buckets}
    return result


def _drift(uri: str) -> Dict[str, Any]:
    """Per feature: the newest span's distance from the previous one, its bound, and whether it
    is over it (distances None: a first span, nothing to compare)."""
    found = read_drift(uri)
    distances = found["distances"] or {}
    return {"compared": bool(distances),
            "features": [{"feature": name, "distance": distances.get(name), "bound": bound,
                          "over": name in distances and distances[name] > bound}
                         for name, bound in found["bounds"].items()]}


def _anomalies(uri: str) -> List[Dict[str, str]]:
    return [{"split": split, "anomaly": line}
            for split, lines in read_anomalies(uri).items() for line in lines]


def _token_coverage(transform_output: tft.TFTransformOutput, transformed_examples_uri: str,
                    vocabulary_size: int) -> Dict[str, Any]:
    """OOV rate of the tokens the model sees, and the share of reviews that fill
    sequence_length (those longer are cut), both on the eval split (the vocabulary was analyzed
    on train)."""
    splits = split_dirs(transformed_examples_uri)
    split = "eval" if "eval" in splits else next(iter(splits))
    files = fileio.glob(os.path.join(splits[split], "*"))
    spec = {features.TOKENS_KEY: transform_output.transformed_feature_spec()[features.TOKENS_KEY]}
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1024).map(
        lambda records: tf.io.parse_example(records, spec)[features.TOKENS_KEY])
    tokens = oov = reviews = truncated = 0
    for batch in dataset:
        ids = batch.numpy()
        tokens += int((ids != features.PADDING_ID).sum())
        # Ids are shifted by one for padding: 1..V are vocabulary words, above that OOV buckets.
        oov += int((ids > vocabulary_size).sum())
        reviews += ids.shape[0]
        truncated += int((ids[:, -1] != features.PADDING_ID).sum())
    return {"coverage_split": split,
            "oov_rate": oov / tokens if tokens else None,
            "truncated_fraction": truncated / reviews if reviews else None}


# --- training ---------------------------------------------------------------------------------

def _training(inputs: ReportInputs,
              trainer_config: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    path = inputs.model_run_uri and os.path.join(inputs.model_run_uri, HISTORY_FILE)
    if not path or not fileio.exists(path):
        return None
    with fileio.open(path) as f:
        history = json.load(f)
    seconds = history.pop("epoch_seconds", None)
    # Models trained before the setting existed stopped on eval loss.
    metric = trainer_config.get("early_stopping_metric", "loss")
    monitored = history.get(f"val_{metric}") or []
    best = max if EARLY_STOPPING_MODES[metric] == "max" else min
    return {"history": history, "epoch_seconds": seconds,
            "epochs": len(history.get("loss", [])),
            # Early stopping restores the weights of the epoch where eval did best.
            "restored_epoch": monitored.index(best(monitored)) + 1 if monitored else None,
            "early_stopping_metric": metric,
            # The decision threshold fitted on eval (trainer/calibration.py).
            "calibration": _serving_asset(inputs.model_uri, CALIBRATION_ASSET)}


# --- evaluation -------------------------------------------------------------------------------

def _metric_values(metrics: Dict[str, Any]) -> Dict[str, Any]:
    by_name = metrics.get("", {}).get("", {})
    values: Dict[str, Any] = {}
    for name, value in by_name.items():
        if "doubleValue" in value:
            values[name] = _finite(float(value["doubleValue"]))
        elif name == "confusion_matrix_at_thresholds":  # not its _diff against the baseline
            matrix = value["confusionMatrixAtThresholds"]["matrices"][0]
            values["confusion_matrix"] = {
                "threshold": matrix.get("threshold", 0.0),
                **{key: int(matrix.get(key, 0)) for key in (
                    "truePositives", "falsePositives", "trueNegatives", "falseNegatives")}}
    return values


def _slice_name(slice_key) -> Dict[str, Any]:
    if not slice_key:
        return {"feature": None, "value": None}
    (feature, value), = slice_key
    return {"feature": feature, "value": value.decode() if isinstance(value, bytes) else value}


def _curves(plots: Dict[str, Any]) -> Dict[str, Any]:
    plot = plots.get("", {}).get("", {})
    matrices = plot.get("confusionMatrixAtThresholds", {}).get("matrices", [])
    roc, pr = {"fpr": [], "tpr": []}, {"recall": [], "precision": []}
    for m in matrices:
        tp, fp = m.get("truePositives", 0.0), m.get("falsePositives", 0.0)
        tn, fn = m.get("trueNegatives", 0.0), m.get("falseNegatives", 0.0)
        if tp + fn and fp + tn:
            roc["fpr"].append(round(fp / (fp + tn), 5))
            roc["tpr"].append(round(tp / (tp + fn), 5))
        if tp + fp and tp + fn:
            pr["recall"].append(round(tp / (tp + fn), 5))
            pr["precision"].append(round(tp / (tp + fp), 5))
    # TFMA's thousand fine buckets, merged into CALIBRATION_BINS equal-width bins.
    bins = [{"count": 0.0, "label": 0.0, "prediction": 0.0} for _ in range(CALIBRATION_BINS)]
    for bucket in plot.get("calibrationHistogramBuckets", {}).get("buckets", []):
        low = _finite(float(bucket.get("lowerThresholdInclusive", 0.0))) or 0.0
        merged = bins[min(max(int(low * CALIBRATION_BINS), 0), CALIBRATION_BINS - 1)]
        merged["count"] += bucket.get("numWeightedExamples", 0.0)
        merged["label"] += bucket.get("totalWeightedLabel", 0.0)
        merged["prediction"] += bucket.get("totalWeightedRefinedPrediction", 0.0)
    calibration = [{"low": i / CALIBRATION_BINS, "high": (i + 1) / CALIBRATION_BINS,
                    "count": b["count"], "mean_prediction": b["prediction"] / b["count"],
                    "mean_label": b["label"] / b["count"]}
                   for i, b in enumerate(bins) if b["count"]]
    return {"roc": roc, "pr": pr, "calibration": calibration}


def _slice_order(entry: Dict[str, Any]):
    feature, value = entry["feature"], entry["value"]
    if feature == features.LENGTH_BUCKET_KEY and value in features.length_buckets():
        value = features.length_buckets().index(value)
    return (str(feature), value if isinstance(value, (int, float)) else 0, str(value))


def _overall(result) -> Dict[str, Any]:
    return next((_metric_values(m) for k, m in result.slicing_metrics if not k), {})


def _load(evaluation_uri: str):
    """The eval config, the candidate's EvalResult and the baseline model's name (or None)."""
    eval_config = eval_config_writer.load_eval_run(evaluation_uri)[0]
    # With a baseline the models are named (candidate, baseline); without, the one has no name.
    candidate_name = next((s.name for s in eval_config.model_specs if not s.is_baseline), None)
    baseline_name = next((s.name for s in eval_config.model_specs if s.is_baseline), None)
    candidate = tfma.load_eval_result(evaluation_uri, model_name=candidate_name or None)
    return eval_config, candidate, baseline_name


@dataclasses.dataclass
class Evaluated:
    """One TFMA evaluation of candidate (and baseline) on one split, with its gate's rows."""
    split: str
    candidate: Any  # the candidate's EvalResult
    overall: Dict[str, Any]
    baseline_overall: Optional[Dict[str, Any]]
    thresholds: List[Dict[str, Any]]

    @property
    def refused_by(self) -> List[str]:
        """'binary_accuracy change on span_holdout', ...: the thresholds that failed."""
        return [f"{row['metric']} {row['check']} on {self.split}" for row in self.thresholds
                if row["passed"] is False]


def evaluated(evaluation_uri: str, split: str) -> Evaluated:
    """The TFMA evaluation at `evaluation_uri`, which judged the models on `split`."""
    eval_config, candidate, baseline_name = _load(evaluation_uri)
    overall = _overall(candidate)
    baseline = (_overall(tfma.load_eval_result(evaluation_uri, model_name=baseline_name))
                if baseline_name else None)
    validation = tfma.load_validation_result(evaluation_uri)
    rows = [{**row, "split": split}
            for row in _threshold_rows(eval_config, validation, overall, baseline)]
    return Evaluated(split, candidate, overall, baseline, rows)


def _span_check(span: Evaluated) -> Dict[str, Any]:
    """Candidate and serving model on the newest span's held-out reviews."""
    return {"split": SPAN_CHECK_SPLIT,
            "overall": {k: span.overall.get(k) for k in SPAN_CHECK_METRICS},
            "baseline_overall": span.baseline_overall and {
                k: span.baseline_overall.get(k) for k in SPAN_CHECK_METRICS}}


def _evaluation(test: Evaluated, sliced_evaluation_uri: Optional[str]) -> Dict[str, Any]:
    # Without the SlicedEvaluator's output, whatever slices the gate's evaluation has.
    sliced = (tfma.load_eval_result(sliced_evaluation_uri) if sliced_evaluation_uri
              else test.candidate)
    slices = [{**_slice_name(slice_key),
               "metrics": {k: _metric_values(metrics).get(k) for k in SLICE_METRICS}}
              for slice_key, metrics in sliced.slicing_metrics if slice_key]
    plots = next((p for k, p in test.candidate.plots if not k), {})
    overall, baseline_overall = test.overall, test.baseline_overall
    return {
        "split": EVALUATED_SPLIT,
        "overall": {k: overall.get(k) for k in OVERALL_METRICS},
        "confusion_matrix": overall.get("confusion_matrix"),
        "baseline_overall": baseline_overall and {k: baseline_overall.get(k)
                                                  for k in OVERALL_METRICS},
        "slices": sorted(slices, key=_slice_order),
        **_curves(plots),
    }


# --- gate -------------------------------------------------------------------------------------

def _metric_name(metric_config) -> str:
    kwargs = json.loads(metric_config.config) if metric_config.config else {}
    return getattr(tfma.metrics, metric_config.class_name)(**kwargs).name


def _failure_text(per_slice, failure) -> str:
    """'0.8412 (overall)' or '0.6000 (rating=10)': the failing value and where."""
    where = []
    for key in per_slice.slice_key.single_slice_keys:
        value = getattr(key, key.WhichOneof("kind"))
        where.append(f"{key.column}={value.decode() if isinstance(value, bytes) else value}")
    return f"{failure.metric_value.double_value.value:.4f} ({', '.join(where) or 'overall'})"


def _threshold_rows(eval_config, validation, candidate: Dict[str, Any],
                    baseline: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One row per configured threshold, in the order of the eval config."""
    def failure(name: str, is_diff: bool) -> Optional[str]:
        found = [_failure_text(per_slice, f)
                 for per_slice in validation.metric_validations_per_slice
                 for f in per_slice.failures
                 if f.metric_key.name == name and f.metric_key.is_diff == is_diff]
        return "; ".join(found) or None

    rows = []
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            name = _metric_name(metric)
            baseline_value = baseline.get(name) if baseline else None
            for threshold in [metric.threshold] + [t.threshold
                                                   for t in metric.per_slice_thresholds]:
                if threshold.value_threshold.HasField("lower_bound"):
                    failed = failure(name, is_diff=False)
                    rows.append({"metric": name, "check": "lower_bound",
                                 "threshold": threshold.value_threshold.lower_bound.value,
                                 "candidate": candidate.get(name), "baseline": baseline_value,
                                 "passed": failed is None, "failed_values": failed})
                if threshold.HasField("change_threshold"):
                    failed = failure(name, is_diff=True)
                    rows.append({"metric": name, "check": "change",
                                 "threshold": threshold.change_threshold.absolute.value,
                                 "candidate": candidate.get(f"{name}_diff"),
                                 "baseline": baseline_value,
                                 # TFMA skips change thresholds on the first run: no baseline.
                                 "passed": None if baseline is None else failed is None,
                                 "failed_values": failed})
    return rows


def _gate(inputs: ReportInputs, thresholds: List[Dict[str, Any]]) -> Dict[str, Any]:
    push = inputs.push or {}
    return {
        "blessed": _blessed(inputs.blessing_uri, thresholds),
        # One row per threshold and the split it judged: `test`, on spans also `span_holdout`.
        "thresholds": thresholds,
        "baseline_model": inputs.baseline_model_uri,
        "pushed": bool(push.get("pushed")),
        "pushed_version": push.get("pushed_version"),
        "pushed_destination": push.get("pushed_destination"),
        "new_version": bool(push.get("new_version")),
    }


def _blessed(blessing_uri: Optional[str], thresholds: List[Dict[str, Any]]) -> bool:
    """What the Evaluator decided: its BLESSED / NOT_BLESSED marker, else the thresholds."""
    if blessing_uri:
        if fileio.exists(os.path.join(blessing_uri, "BLESSED")):
            return True
        if fileio.exists(os.path.join(blessing_uri, "NOT_BLESSED")):
            return False
    return all(row["passed"] is not False for row in thresholds)
