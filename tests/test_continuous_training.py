"""Continuous training for real, on tiny generated spans: `imdb-lstm stream replay` writes them,
`imdb-lstm watch` runs the whole pipeline once per span; what happened is read back from ML
Metadata, the serving directory and the Trainer's run directory."""
import dataclasses
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import threading

import ml_metadata as mlmd
import pytest
import tensorflow as tf
from tfx.orchestration import metadata

import synthetic_imdb
from components import spans
from components.span_example_gen import SPAN_HOLDOUT_SPLIT, split_of
from pipeline import outcome
from pipeline_runs import (BIN, FAST_TRAINING, GOOD_MODEL, NO_VALUE_GATES, PROJECT_ROOT,
                           imdb_lstm, input_uris, versions)
from scored_splits import classification, served_scores, split_examples
from trainer import features

pytestmark = pytest.mark.e2e

# Spans of a few dozen generated reviews differ by chance in everything but what a drifted span
# changes on purpose: its labels.
DRIFT_BOUNDS = ["--max-drift-label-balance", "0.35", "--max-drift-rating", "1",
                "--max-drift-review-length", "1", "--max-drift-vocabulary", "1"]


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    """Spans 1-3, span 4 drifted to negative reviews only, and a span 5 still being written."""
    root = tmp_path_factory.mktemp("stream")
    data = synthetic_imdb.write_archive(str(root / "imdb.tar.gz"), per_folder=60)
    landing = str(root / "landing")
    replay = imdb_lstm("replay", "--data", data, "--landing", landing, "--spans", "4", "--drift",
                       "4:negative", command="stream")
    assert replay.returncode == 0, replay.stderr
    assert "wrote span(s) [1, 2, 3, 4]" in replay.stdout
    os.makedirs(spans.span_dir(landing, 5))
    with gzip.open(os.path.join(spans.span_dir(landing, 5), "part-00000.jsonl.gz"), "wt") as f:
        f.write(json.dumps({"id": "x", "review": "good", "rating": 9, "time": "2026-12-06"}))
    return data, landing


def watch(data, landing, output_dir, *extra, **kwargs):
    args = ["--landing", landing, "--eval-data", data, "--output-dir", output_dir,
            "--window", "2", *FAST_TRAINING, *NO_VALUE_GATES, *DRIFT_BOUNDS, *extra]
    return imdb_lstm(*args, command="watch", **kwargs)


def finished_runs(output_dir):
    metadata_path = os.path.join(output_dir, "metadata", "imdb-lstm", "metadata.db")
    return [r for r in outcome.runs(metadata_path, "imdb-lstm") if r.finished]


def report_summary(run):
    with open(os.path.join(os.path.dirname(run.report_path), "summary.json")) as f:
        return json.load(f)


def started_from(run):
    with open(os.path.join(run.output_uris["model_run"], "start.json")) as f:
        return json.load(f)["serving_model"]


def test_watch_runs_each_ready_span_once_on_its_window(landing, tmp_path):
    data, landing = landing
    output_dir = str(tmp_path / "out")
    process = watch(data, landing, output_dir, "--once")
    assert process.returncode == 0, process.stderr
    runs = finished_runs(output_dir)
    assert [r.span for r in runs] == [1, 2, 3, 4]  # in order; span 5 has no marker
    assert [r.window_spans for r in runs] == [[1], [1, 2], [2, 3], [3, 4]]
    serving = os.path.join(output_dir, "serving", "imdb-lstm")
    # Span 1 trains from scratch; later spans start from the model serving at the time.
    assert started_from(runs[0]) is None
    assert started_from(runs[1]) == os.path.join(serving, runs[0].pushed_version)
    assert started_from(runs[2]) in {os.path.join(serving, v) for v in versions(serving)}
    # Span to serving: from the span's marker to its model's version appearing, before the
    # slices and the report are computed.
    landed = spans.read_marker(landing, 1).completed
    assert landed < runs[0].pushed_at < os.path.getmtime(runs[0].report_path)
    assert re.search(rf"span 1: .*, pushed {runs[0].pushed_version}, run \d+ s, span to serving "
                     rf"{runs[0].pushed_at - landed:.0f} s\n", process.stderr)
    # The drifted span stops before anything trains on it; nothing new serves.
    assert runs[3].component_states["DriftGate"] == "FAILED"
    assert "Trainer" not in runs[3].component_states and not runs[3].pushed
    assert "span 4: window 3-4, stopped at DriftGate: DataDriftError: span 4 drifted from " \
           "span 3" in process.stderr
    assert "label_balance" in process.stderr
    # The reports show the comparison with the previous span (DRIFT_BOUNDS).
    first, second = (report_summary(run)["drift"] for run in runs[:2])
    assert first == {"compared": False, "features": [
        {"feature": name, "distance": None, "bound": bound, "over": False}
        for name, bound in (("label_balance", 0.35), ("rating", 1), ("review_length", 1),
                            ("vocabulary", 1))]}
    assert second["compared"] and [f["over"] for f in second["features"]] == [False] * 4
    assert all(0 <= f["distance"] < f["bound"] for f in second["features"])
    assert report_summary(runs[0])["run"]["data_source"] == landing
    # Nothing left to do: a second pass runs nothing.
    again = watch(data, landing, output_dir, "--once")
    assert again.returncode == 0 and "0 span(s) processed; none pending" in again.stderr
    assert len(finished_runs(output_dir)) == 4


def read_stderr_until(process, wanted, seconds=900):
    """`process`'s stderr lines up to the first for which `wanted(lines so far)` holds. Fails, and
    kills the process's group, if none comes within `seconds` or the process ends first: a
    missing line fails this test by name instead of hanging its worker."""
    lines, done, matched = [], threading.Event(), []

    def read():
        for line in process.stderr:
            lines.append(line)
            if wanted(lines):
                matched.append(line)
                break
        done.set()
    threading.Thread(target=read, daemon=True).start()
    if not done.wait(seconds) or not matched:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"the awaited line did not come within {seconds} s; stderr:\n"
                    + "".join(lines))
    return lines


def test_a_span_killed_mid_run_is_run_again_after_a_restart(landing, tmp_path):
    data, landing = landing
    output_dir = str(tmp_path / "out")
    command = [os.path.join(BIN, "imdb-lstm"), "watch", "--landing", landing, "--eval-data",
               data, "--output-dir", output_dir, "--window", "2", *FAST_TRAINING,
               *NO_VALUE_GATES, *DRIFT_BOUNDS, "--poll-seconds", "1"]
    watcher = subprocess.Popen(command, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    # Kill it once span 2's Trainer is at work.
    seen = read_stderr_until(watcher, lambda lines: "span 1:" in "".join(lines)
                             and "[Trainer] running" in lines[-1])
    os.killpg(watcher.pid, signal.SIGKILL)
    watcher.wait(timeout=60)
    assert [r.span for r in finished_runs(output_dir)] == [1], "".join(seen)
    process = watch(data, landing, output_dir, "--once")
    assert process.returncode == 0, process.stderr
    assert [r.span for r in finished_runs(output_dir)] == [1, 2, 3, 4]
    assert "span 1:" not in process.stderr and "span 2: window 1-2" in process.stderr


def test_watch_runs_a_span_that_lands_after_it_started(landing, tmp_path):
    data, landing = landing
    late_landing = tmp_path / "late-landing"
    late_landing.mkdir()
    output_dir = str(tmp_path / "out")
    command = [os.path.join(BIN, "imdb-lstm"), "watch", "--landing", str(late_landing),
               "--eval-data", data, "--output-dir", output_dir, "--window", "2",
               *FAST_TRAINING, *NO_VALUE_GATES, *DRIFT_BOUNDS, "--poll-seconds", "1"]
    watcher = subprocess.Popen(command, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    read_stderr_until(watcher, lambda lines: "watching" in lines[-1])
    assert finished_runs(output_dir) == []
    # Span 1 lands whole (copied beside, then renamed), as a writer's last step would.
    shutil.copytree(spans.span_dir(landing, 1), late_landing / "incoming")
    os.rename(late_landing / "incoming", spans.span_dir(str(late_landing), 1))
    seen = read_stderr_until(watcher, lambda lines: "span 1: window 1-1" in lines[-1])
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=120) == 0
    assert [r.span for r in finished_runs(output_dir)] == [1], "".join(seen)


def test_sigterm_stops_watch_mid_run_and_leaves_the_span_to_run_again(landing, tmp_path):
    data, landing = landing
    output_dir = str(tmp_path / "out")
    command = [os.path.join(BIN, "imdb-lstm"), "watch", "--landing", landing, "--eval-data",
               data, "--output-dir", output_dir, "--window", "2", *FAST_TRAINING,
               *NO_VALUE_GATES, *DRIFT_BOUNDS]
    watcher = subprocess.Popen(command, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    read_stderr_until(watcher, lambda lines: "[Trainer] running" in lines[-1])
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=120) == 0
    assert "stopped by SIGTERM after 0 span(s)" in watcher.stderr.read()
    metadata_path = os.path.join(output_dir, "metadata", "imdb-lstm", "metadata.db")
    [stopped] = outcome.runs(metadata_path, "imdb-lstm")
    # The run on span 1 did not end, so span 1 is still to do.
    assert stopped.span == 1 and not stopped.finished
    assert "EvaluationReport" not in stopped.component_states


def rated_reviews(count, seed, prefix):
    """`count` generated training reviews as span records, half positive."""
    generated = [(path, text) for path, text in synthetic_imdb.reviews(count // 2, seed)
                 if re.search(r"/train/(pos|neg)/", path)]
    return [spans.RatedReview(f"{prefix}-{i}", text, int(re.search(r"_(\d+)\.txt$", path)[1]),
                              "2026-12-07T00:00:00+00:00")
            for i, (path, text) in enumerate(generated)]


@pytest.fixture(scope="module")
def turned_landing(tmp_path_factory):
    """Span 1 as generated; span 2 twice as large, its ratings (so its labels) turned around
    (9 -> 2) except for the reviews it holds out for the gate, which read as span 1's do."""
    root = tmp_path_factory.mktemp("turned")
    data = synthetic_imdb.write_archive(str(root / "imdb.tar.gz"), per_folder=60)
    landing = str(root / "landing")
    spans.write_span(landing, 1, rated_reviews(200, seed=1, prefix="s1"))
    second = rated_reviews(400, seed=2, prefix="s2")
    held_out = [r for r in second if split_of(r.id, True, 10) == SPAN_HOLDOUT_SPLIT]
    spans.write_span(landing, 2, [r if r in held_out else
                                  dataclasses.replace(r, rating=11 - r.rating) for r in second])
    return data, landing, held_out


def blessed_model_ids(output_dir):
    """The models some ModelBlessing in ML Metadata calls blessed: what the next run's
    latest-blessed-model resolver chooses from."""
    store = mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(
        os.path.join(output_dir, "metadata", "imdb-lstm", "metadata.db")))
    return {b.custom_properties["current_model_id"].int_value
            for b in store.get_artifacts_by_type("ModelBlessing")
            if b.custom_properties["blessed"].int_value == 1}


def test_a_candidate_worse_on_the_newest_spans_held_out_reviews_is_not_pushed(turned_landing,
                                                                              tmp_path):
    data, landing, held_out = turned_landing
    output_dir = str(tmp_path / "out")
    # The fixed set never refuses here; the span's held-out reviews allow no loss at all.
    process = watch(data, landing, output_dir, "--once", *GOOD_MODEL,
                    "--max-accuracy-regression", "1", "--max-span-accuracy-regression", "0")
    assert process.returncode == 0, process.stderr
    first, second = finished_runs(output_dir)
    assert first.pushed and first.blessed
    # Both models scored here on the span's held-out reviews: exactly the reviews kept from
    # training, and the candidate (trained on turned labels) is the worse of the two.
    [examples] = input_uris(output_dir, "SpanEvaluator")["examples"]
    serialized, labels = split_examples(examples, SPAN_HOLDOUT_SPLIT)
    assert sorted(_texts(serialized)) == sorted(r.review for r in held_out)
    trained_on = _texts(split_examples(examples, "train")[0] + split_examples(examples, "eval")[0])
    assert not set(_texts(serialized)) & set(trained_on)
    candidate = classification(served_scores(second.output_uris["model"], serialized), labels)
    serving = classification(served_scores(first.output_uris["model"], serialized), labels)
    assert candidate["binary_accuracy"] < serving["binary_accuracy"]
    assert second.span_metrics["binary_accuracy"] == pytest.approx(candidate["binary_accuracy"])
    assert second.span_baseline_metrics["binary_accuracy"] == pytest.approx(
        serving["binary_accuracy"])
    # Refused by the span check alone; nothing pushed; the refused model can never be a baseline.
    assert second.blessed is False and second.refused_by == [
        f"binary_accuracy change on {SPAN_HOLDOUT_SPLIT}"]
    assert not second.pushed and versions(os.path.join(output_dir, "serving", "imdb-lstm")) == [
        first.pushed_version]
    assert blessed_model_ids(output_dir) == {_model_id(output_dir, first)}
    assert (f"span held-out accuracy {candidate['binary_accuracy']:.4f} (serving "
            f"{serving['binary_accuracy']:.4f}), blessed no (refused: binary_accuracy change on "
            f"{SPAN_HOLDOUT_SPLIT}), serving unchanged") in process.stderr
    # The report shows both evaluations and names the failing threshold with its split.
    summary = report_summary(second)
    assert summary["span_check"]["overall"]["binary_accuracy"] == pytest.approx(
        candidate["binary_accuracy"])
    failed = [(row["metric"], row["check"], row["split"])
              for row in summary["gate"]["thresholds"] if row["passed"] is False]
    assert failed == [("binary_accuracy", "change", SPAN_HOLDOUT_SPLIT)]
    assert summary["evaluation"]["overall"]["example_count"] == 120  # the fixed set


def _texts(serialized):
    return [tf.train.Example.FromString(e).features.feature[features.REVIEW_KEY]
            .bytes_list.value[0].decode("utf-8") for e in serialized]


def _model_id(output_dir, run):
    store = mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(
        os.path.join(output_dir, "metadata", "imdb-lstm", "metadata.db")))
    return next(m.id for m in store.get_artifacts_by_type("Model")
                if m.uri == run.output_uris["model"])
