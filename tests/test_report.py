"""The evaluation report of real pipeline runs, opened in headless Chromium (Debian's chromium
and chromium-driver, which `make test` installs), against the runs' models scored here on their
splits and TFMA's own reading of what only it computes (PR AUC, slices); and `imdb-lstm report`,
which lists runs and re-renders them from ML Metadata."""
import json
import os

import pytest
import tensorflow_model_analysis as tfma
from components.report import html
from pipeline import outcome
from pipeline_runs import data_keys, input_uris, metadata_path, report
from report_browser import open_page
from scored_splits import classification, log_loss, served_scores, split_examples
from trainer import features

pytestmark = pytest.mark.e2e


def ingested(output_dir):
    """The reviews every run of the fixture read: ExampleGen's output, cached after the first."""
    [examples] = input_uris(output_dir, "Evaluator")["examples"]
    return examples


def scored_test_split(examples, model_uri):
    serialized, labels = split_examples(examples, "test")
    return classification(served_scores(model_uri, serialized), labels)


def restored_epoch(examples, run, history):
    """The epoch whose eval loss the exported model reproduces on the eval split."""
    serialized, labels = split_examples(examples, "eval")
    loss = log_loss(served_scores(run.output_uris["model"], serialized), labels)
    distances = [abs(loss - epoch_loss) for epoch_loss in history["val_loss"]]
    assert min(distances) < 1e-4, (loss, history["val_loss"])
    return distances.index(min(distances)) + 1


def test_report_of_a_blessed_run_matches_tfma(runs, browser, tmp_path):
    _, run, _ = runs["first"]
    evaluation = run.output_uris["evaluation"]
    keys, image_count = open_page(browser, run.report_path, str(tmp_path / "first.png"))
    # Length distribution, training curves, ROC and PR, calibration, confusion matrix, slices.
    assert image_count == 6

    # The overall numbers are what the pushed model gives on the test split, scored here.
    examples = ingested(runs["output_dir"])
    expected = scored_test_split(examples, run.output_uris["model"])
    for name in ("binary_accuracy", "precision", "recall", "binary_crossentropy", "calibration"):
        assert float(keys[f"overall.{name}"]) == pytest.approx(expected[name], abs=1e-4), name
    # TFMA's AUC interpolates over 10,000 thresholds.
    assert float(keys["overall.auc"]) == pytest.approx(expected["auc"], abs=2e-3)
    assert int(keys["overall.example_count"].replace(",", "")) == expected["example_count"]
    result = tfma.load_eval_result(evaluation)
    assert float(keys["overall.auc_precision_recall"]) == pytest.approx(
        result.get_metrics_for_slice()["auc_precision_recall"]["doubleValue"], abs=5e-5)
    # The slices, the SlicedEvaluator's; the gate's evaluation has the whole split alone.
    assert list(result.get_metrics_for_all_slices()) == [()]
    sliced = tfma.load_eval_result(run.output_uris["sliced_evaluation"])
    computed = sliced.get_metrics_for_all_slices()
    assert {feature for ((feature, _),) in computed} == set(features.EVAL_SLICE_KEYS)
    assert {key.rsplit(".", 1)[0] for key in keys if key.startswith("slice.")} == {
        f"slice.{feature}.{value}" for ((feature, value),) in computed}
    for ((feature, value),), metrics in computed.items():
        shown = keys[f"slice.{feature}.{value}.binary_accuracy"]
        assert float(shown) == pytest.approx(metrics["binary_accuracy"]["doubleValue"], abs=5e-5)

    validation = tfma.load_validation_result(evaluation)
    assert validation.validation_ok
    assert keys["gate.blessed"].startswith("BLESSED")
    assert keys["gate.pushed_version"] == run.pushed_version
    assert float(keys["gate.binary_accuracy.lower_bound"]) == pytest.approx(
        expected["binary_accuracy"], abs=1e-4)
    assert int(keys["data.test.examples"]) == expected["example_count"]
    with open(os.path.join(run.output_uris["model"], "Format-Serving", "assets.extra",
                           "calibration.json")) as f:
        calibrated = json.load(f)
    assert float(keys["training.decision_threshold"]) == pytest.approx(
        calibrated["decision_threshold"], abs=5e-4)
    # Under 1,000 eval reviews nothing is fitted: the served score is the model's own, whose
    # loss on the eval split tells which epoch's weights were kept.
    assert calibrated["decision_threshold"] == 0.5
    with open(os.path.join(run.output_uris["model_run"], "history.json")) as f:
        history = json.load(f)
    assert int(keys["training.restored_epoch"]) == restored_epoch(examples, run, history)


def test_the_report_says_fitted_only_when_the_threshold_was(runs):
    _, run, _ = runs["first"]
    with open(os.path.join(os.path.dirname(run.report_path), "summary.json")) as f:
        summary = json.load(f)
    calibrated = summary["training"]["calibration"]
    assert not calibrated["fitted"] and calibrated["eval_reviews"] < 1000
    kept = html.render_report(summary)
    assert (f"not fitted (calibration off, or fewer than 1,000 eval reviews: "
            f"{calibrated['eval_reviews']})") in kept
    assert "fitted by log loss" not in kept
    calibrated.update(fitted=True, eval_reviews=1200, decision_threshold=0.3)
    fitted = html.render_report(summary)
    assert "0.300</span>, fitted by log loss on 1,200 eval reviews" in fitted
    assert "not fitted" not in fitted


def test_report_of_a_worse_model_names_the_failing_threshold(runs, browser, tmp_path):
    process, run, _ = runs["worse"]
    evaluation = run.output_uris["evaluation"]
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

    # The candidate scored here against the baseline, the first run's pushed model.
    examples = ingested(runs["output_dir"])
    candidate = scored_test_split(examples, run.output_uris["model"])
    baseline = scored_test_split(examples, runs["first"][1].output_uris["model"])
    assert float(keys["overall.binary_accuracy"]) == pytest.approx(
        candidate["binary_accuracy"], abs=1e-4)
    assert float(keys["baseline.binary_accuracy"]) == pytest.approx(
        baseline["binary_accuracy"], abs=1e-4)
    assert float(keys["gate.binary_accuracy.change"]) == pytest.approx(
        candidate["binary_accuracy"] - baseline["binary_accuracy"], abs=1e-4)
    for cell in ("truePositives", "falsePositives", "trueNegatives", "falseNegatives"):
        assert int(keys[f"confusion.{cell}"].replace(",", "")) == candidate[cell], cell
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
