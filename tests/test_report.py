"""The evaluation report of real pipeline runs, opened in headless Chromium (Debian's chromium
and chromium-driver, which `make test` installs), against TFMA's own reading of the Evaluator's
output; and `imdb-lstm report`, which lists runs and re-renders them from ML Metadata."""
import json
import os

import pytest
import tensorflow_model_analysis as tfma
from pipeline import outcome
from pipeline_runs import data_keys, metadata_path, report
from report_browser import open_page

pytestmark = pytest.mark.e2e

def overall(result):
    metrics = next(m for key, m in result.slicing_metrics if not key)[""][""]
    return {name: value["doubleValue"] for name, value in metrics.items()
            if "doubleValue" in value}


def confusion_matrix(result):
    """The candidate's counts at the decision threshold (TFMA leaves zero counts out)."""
    metrics = next(m for key, m in result.slicing_metrics if not key)[""][""]
    return metrics["confusion_matrix_at_thresholds"]["confusionMatrixAtThresholds"]["matrices"][0]


def model_names(evaluation_uri):
    config = tfma.load_eval_result(evaluation_uri).config
    return [(spec.name or None, spec.is_baseline) for spec in config.model_specs]


def test_report_of_a_blessed_run_matches_tfma(runs, browser, tmp_path):
    _, run, _ = runs["first"]
    evaluation = run.output_uris["ModelEvaluation"]
    keys, image_count = open_page(browser, run.report_path, str(tmp_path / "first.png"))
    # Length distribution, training curves, ROC and PR, calibration, confusion matrix, slices.
    assert image_count == 6

    result = tfma.load_eval_result(evaluation)
    expected = overall(result)
    for name in ("binary_accuracy", "auc", "auc_precision_recall", "precision", "recall",
                 "binary_crossentropy", "calibration"):
        assert float(keys[f"overall.{name}"]) == pytest.approx(expected[name], abs=5e-5), name
    assert int(keys["overall.example_count"].replace(",", "")) == expected["example_count"]
    for slice_key, metrics in result.slicing_metrics:
        if slice_key:
            (feature, value), = slice_key
            shown = keys[f"slice.{feature}.{value}.binary_accuracy"]
            assert float(shown) == pytest.approx(
                metrics[""][""]["binary_accuracy"]["doubleValue"], abs=5e-5)

    validation = tfma.load_validation_result(evaluation)
    assert validation.validation_ok
    assert keys["gate.blessed"].startswith("BLESSED")
    assert keys["gate.pushed_version"] == run.pushed_version
    assert float(keys["gate.binary_accuracy.lower_bound"]) == pytest.approx(
        expected["binary_accuracy"], abs=5e-5)
    assert int(keys["data.test.examples"]) == expected["example_count"]
    with open(os.path.join(run.output_uris["Model"], "Format-Serving", "assets.extra",
                           "calibration.json")) as f:
        calibrated = json.load(f)
    assert float(keys["training.decision_threshold"]) == pytest.approx(
        calibrated["decision_threshold"], abs=5e-4)
    with open(os.path.join(run.output_uris["ModelRun"], "history.json")) as f:
        eval_accuracy = json.load(f)["val_accuracy"]
    # The default early stopping keeps the epoch of the highest eval accuracy (the first of ties).
    assert int(keys["training.restored_epoch"]) == eval_accuracy.index(max(eval_accuracy)) + 1


def test_report_of_a_worse_model_names_the_failing_threshold(runs, browser, tmp_path):
    process, run, _ = runs["worse"]
    evaluation = run.output_uris["ModelEvaluation"]
    keys, _ = open_page(browser, run.report_path, str(tmp_path / "worse.png"))

    validation = tfma.load_validation_result(evaluation)
    assert not validation.validation_ok
    failing = {(f.metric_key.name, f.metric_key.is_diff)
               for s in validation.metric_validations_per_slice for f in s.failures}
    assert ("binary_accuracy", True) in failing
    verdict = keys["gate.blessed"]
    assert verdict.startswith("NOT BLESSED")
    assert "binary_accuracy change vs. baseline at least -0.0100" in verdict
    assert "Nothing was pushed." in verdict

    baseline_name = next(name for name, is_baseline in model_names(evaluation) if is_baseline)
    candidate_name = next(name for name, is_baseline in model_names(evaluation)
                          if not is_baseline)
    candidate = overall(tfma.load_eval_result(evaluation, model_name=candidate_name))
    baseline = overall(tfma.load_eval_result(evaluation, model_name=baseline_name))
    assert float(keys["overall.binary_accuracy"]) == pytest.approx(
        candidate["binary_accuracy"], abs=5e-5)
    assert float(keys["baseline.binary_accuracy"]) == pytest.approx(
        baseline["binary_accuracy"], abs=5e-5)
    assert float(keys["gate.binary_accuracy.change"]) == pytest.approx(
        candidate["binary_accuracy_diff"], abs=5e-5)
    matrix = confusion_matrix(tfma.load_eval_result(evaluation, model_name=candidate_name))
    for cell in ("truePositives", "falsePositives", "trueNegatives", "falseNegatives"):
        assert int(keys[f"confusion.{cell}"].replace(",", "")) == matrix.get(cell, 0), cell
    assert f"report: {run.report_path}" in process.stderr


def test_report_command_lists_runs_and_re_renders_them_from_metadata(runs, tmp_path):
    output_dir = runs["output_dir"]
    recorded = outcome.runs(metadata_path(output_dir), "imdb-lstm")
    listing = report(output_dir)
    assert listing.returncode == 0, listing.stderr
    for run in recorded:
        assert run.run_id in listing.stdout
    assert listing.stdout.count(" NO ") == 1  # the worse model

    worse = runs["worse"][1]
    out = str(tmp_path / "worse.html")
    rendered = report(output_dir, worse.run_id, "--out", out)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.strip() == out
    again, original = data_keys(out), data_keys(worse.report_path)
    assert again == original
    with open(os.path.join(os.path.dirname(worse.report_path), "summary.json")) as f:
        summary = json.load(f)
    assert summary["gate"]["blessed"] is False
    assert float(again["overall.binary_accuracy"]) == pytest.approx(
        summary["evaluation"]["overall"]["binary_accuracy"], abs=5e-5)


def test_report_command_compares_two_runs(runs, browser, tmp_path):
    output_dir = runs["output_dir"]
    first, worse = runs["first"][1], runs["worse"][1]
    out = str(tmp_path / "compare.html")
    compared = report(output_dir, "--compare", first.run_id, "latest", "--out", out)
    assert compared.returncode == 0, compared.stderr
    keys, image_count = open_page(browser, out, str(tmp_path / "compare.png"))
    assert image_count >= 3
    assert (keys["a.run.id"], keys["b.run.id"]) == (first.run_id, worse.run_id)
    assert keys["a.gate.blessed"].startswith("BLESSED")
    assert keys["b.gate.blessed"].startswith("NOT BLESSED")
    assert float(keys["b.overall.binary_accuracy"]) == pytest.approx(
        worse.metrics["binary_accuracy"], abs=5e-5)


def test_report_command_explains_an_unknown_run(runs):
    process = report(runs["output_dir"], "no-such-run")
    assert process.returncode == 2
    assert "no run 'no-such-run'" in process.stderr
