"""The whole pipeline, for real (LocalDagRunner, Beam, SQLite MLMD), on tiny synthetic data.

Each run goes through the `imdb-lstm` console script (or the `tfx` CLI) in a subprocess, the way
users run it; what happened is read back from ML Metadata and the pushed SavedModel.
"""
import glob
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

import synthetic_imdb
from pipeline_runs import (ALL_NODES, BIN, FAST_TRAINING, NO_VALUE_GATES, PROJECT_ROOT,
                           imdb_lstm, input_uris, latest, metadata_path, report, versions)
from report_browser import open_page

pytestmark = pytest.mark.e2e

def test_every_component_ran_and_a_model_was_pushed(runs):
    process, run, pushed_versions = runs["first"]
    assert set(run.component_states) == ALL_NODES
    assert set(run.component_states.values()) == {"COMPLETE"}
    assert run.blessed and run.pushed and run.new_version
    assert pushed_versions == [run.pushed_version]
    assert run.metrics["example_count"] == 100  # the official test split only
    for line in ("[Trainer] done", "[Evaluator] done", "test binary_accuracy",
                 f"pushed as new version {run.pushed_version}"):
        assert line in process.stderr


def test_console_is_quiet_and_the_log_file_has_everything(runs):
    process, _, _ = runs["first"]
    assert "tensorflow" not in process.stderr.lower().replace("tensorflow_", "")
    log_files = os.listdir(os.path.join(runs["output_dir"], "logs", "imdb-lstm"))
    assert log_files
    log = open(os.path.join(runs["output_dir"], "logs", "imdb-lstm", sorted(log_files)[0])).read()
    assert "Component Trainer is finished." in log


CLASSIFY = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    reviews = ["great wonderful brilliant superb loved it", "awful boring terrible dull mess"]
    by_text = model.signatures["serving_raw_text"](review=tf.constant(reviews))
    examples = [tf.train.Example(features=tf.train.Features(feature={"review": tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[r.encode()]))})).SerializeToString() for r in reviews]
    by_example = model.signatures["serving_default"](examples=tf.constant(examples))
    print(json.dumps({k: v["probabilities"].numpy()[:, 0].tolist()
                      for k, v in (("text", by_text), ("examples", by_example))}))
""")


def test_pushed_model_classifies_raw_text_in_a_fresh_process(runs):
    _, run, _ = runs["first"]
    process = subprocess.run([sys.executable, "-c", CLASSIFY, run.pushed_destination],
                             capture_output=True, text=True, timeout=300,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert process.returncode == 0, process.stderr
    scores = json.loads(process.stdout.strip().splitlines()[-1])
    positive, negative = scores["text"]
    assert positive > 0.5 > negative  # it learned which words are which, and says so
    assert scores["text"] == pytest.approx(scores["examples"], abs=1e-6)
    assert run.metrics["binary_accuracy"] > 0.6  # 100 generated test reviews; chance 0.5, sd 0.05


def test_saved_model_cli_scores_a_positive_review_positive(runs):
    _, run, _ = runs["first"]
    process = subprocess.run(
        [os.path.join(BIN, "saved_model_cli"), "run", "--dir", run.pushed_destination,
         "--tag_set", "serve", "--signature_def", "serving_raw_text",
         "--input_exprs", 'review=["a wonderful film, loved it, superb"]'],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert process.returncode == 0, process.stderr
    [score] = re.findall(r"probabilities:\s*\[\[([0-9.e-]+)\]\]", process.stdout)
    assert float(score) > 0.5


def test_cached_rerun_pushes_no_new_version(runs):
    process, run, pushed_versions = runs["rerun"]
    first_version = runs["first"][1].pushed_version
    assert run.component_states["Trainer"] == "CACHED"
    assert run.pushed and not run.new_version and run.pushed_version == first_version
    assert pushed_versions == [first_version]
    assert f"already serving as version {first_version}" in process.stderr


def test_a_worse_model_is_refused_and_nothing_is_pushed(runs):
    process, run, pushed_versions = runs["worse"]
    baseline = runs["first"][1].metrics["binary_accuracy"]
    assert run.metrics["binary_accuracy"] < baseline - 0.01  # what the scenario needs
    assert run.blessed is False and not run.pushed
    assert pushed_versions == [runs["first"][1].pushed_version]
    assert "blessed: NO" in process.stderr and "pushed: no" in process.stderr


def test_bad_data_fails_clearly_and_publishes_no_examples(tmp_path):
    archive = synthetic_imdb.write_archive(str(tmp_path / "bad.tar.gz"), per_folder=5,
                                           extra={"aclImdb/train/pos/12_2.txt": b"fine"})
    output_dir = str(tmp_path / "out")
    process = imdb_lstm("--data", archive, "--output-dir", output_dir, *FAST_TRAINING)
    assert process.returncode == 1
    assert "IngestError" in process.stderr
    assert "aclImdb/train/pos/12_2.txt: rating 2 is inconsistent with folder 'pos'" \
        in process.stderr
    run = latest(output_dir)
    assert run.component_states["ImdbExampleGen"] == "FAILED"
    assert "Trainer" not in run.component_states
    assert versions(os.path.join(output_dir, "serving", "imdb-lstm")) == []
    examples_dir = os.path.join(output_dir, "pipelines", "imdb-lstm", "ImdbExampleGen", "examples")
    written = [f for _, _, files in os.walk(examples_dir) for f in files if f.endswith(".gz")]
    assert written == []


def split_features(examples_dir, split):
    """The features of each tf.Example in one split of an ExampleGen output."""
    records = tf.data.TFRecordDataset(glob.glob(os.path.join(examples_dir, f"Split-{split}", "*")),
                                      compression_type="GZIP")
    return [tf.train.Example.FromString(r.numpy()).features.feature for r in records]


def test_pretrainer_hands_the_trainer_its_embedding(tmp_path):
    labelled = synthetic_imdb.write_archive(str(tmp_path / "labelled.tar.gz"), per_folder=50,
                                            unlabelled=0)
    output_dir = str(tmp_path / "out")
    common = ["--data", labelled, "--output-dir", output_dir, *FAST_TRAINING, *NO_VALUE_GATES,
              "--pretrain-epochs", "2"]
    # Pretraining asked for, and no unlabelled reviews where it looks: a clear error.
    process = imdb_lstm(*common)
    assert process.returncode == 1
    assert f"{labelled}: no reviews under train/unsup" in process.stderr
    assert latest(output_dir).component_states["UnlabelledImdbExampleGen"] == "FAILED"

    unlabelled = synthetic_imdb.write_archive(str(tmp_path / "unsup.tar.gz"), per_folder=0,
                                              seed=1, unlabelled=150)
    process = imdb_lstm(*common, "--unlabelled-data", unlabelled)
    assert process.returncode == 0, process.stderr
    run = latest(output_dir)
    assert set(run.component_states) == ALL_NODES | {"UnlabelledImdbExampleGen", "Pretrainer"}
    # The labelled ingest and Transform are cached from the failed run; the rest ran now.
    assert set(run.component_states.values()) <= {"COMPLETE", "CACHED"}
    for node in ("UnlabelledImdbExampleGen", "Pretrainer", "Trainer"):
        assert run.component_states[node] == "COMPLETE"
    root = os.path.join(output_dir, "pipelines", "imdb-lstm")
    [model_dir] = glob.glob(os.path.join(root, "Pretrainer", "model", "*"))
    assert input_uris(output_dir, "Trainer")["base_model"] == [model_dir]
    # The language model read the unlabelled reviews and the labelled training ones.
    [labelled_examples] = glob.glob(os.path.join(root, "ImdbExampleGen", "examples", "*"))
    [examples] = glob.glob(os.path.join(root, "UnlabelledImdbExampleGen", "examples", "*"))
    assert input_uris(output_dir, "Pretrainer")["examples"] == sorted([labelled_examples, examples])
    [pretrainer_run] = glob.glob(os.path.join(root, "Pretrainer", "model_run", "*"))
    with open(os.path.join(pretrainer_run, "history.json")) as f:
        assert len(json.load(f)["val_perplexity"]) == 2
    # The unlabelled reviews, split for the language model's held-out perplexity, no labels.
    splits = {split: split_features(examples, split) for split in ("train", "eval")}
    assert all("label" not in f and "rating" not in f and f["review"].bytes_list.value
               for parsed in splits.values() for f in parsed)
    assert len(splits["train"]) + len(splits["eval"]) == 150 and splits["eval"]
    # What the run reports is the classifier's, not the language model's.
    assert "/Trainer/" in run.output_uris["model_run"]
    with open(os.path.join(run.output_uris["model_run"], "history.json")) as f:
        assert "val_accuracy" in json.load(f)
    assert run.pushed

    # A later run, elsewhere, starts from that language model instead of pretraining again.
    later = ["--data", labelled, "--output-dir", str(tmp_path / "later"), *FAST_TRAINING,
             *NO_VALUE_GATES]
    process = imdb_lstm(*later, "--pretrained-model", str(tmp_path))
    assert process.returncode == 1
    assert f"pretrained_model {tmp_path}: no {tmp_path}/Format-Serving/encoder.keras" \
        in process.stderr
    assert not os.path.exists(metadata_path(str(tmp_path / "later")))  # nothing ran
    process = imdb_lstm(*later, "--pretrained-model", model_dir)
    assert process.returncode == 0, process.stderr
    run = latest(str(tmp_path / "later"))
    assert set(run.component_states) == ALL_NODES | {"PretrainedModelImporter"}
    assert input_uris(str(tmp_path / "later"), "Trainer")["base_model"] == [model_dir]
    assert "/Trainer/" in run.output_uris["model_run"] and run.pushed


def test_anomalies_stop_the_run_before_training(tmp_path, data, browser):
    schema = open(os.path.join(PROJECT_ROOT, "schemas", "schema.pbtxt")).read()
    strict = tmp_path / "strict_schema.pbtxt"
    strict.write_text(schema.replace("int_domain { min: 1 max: 10 }",
                                     "int_domain { min: 1 max: 5 }"))
    output_dir = str(tmp_path / "out")
    process = imdb_lstm("--data", data, "--output-dir", output_dir, "--schema-path", str(strict),
                        *FAST_TRAINING)
    assert process.returncode == 1
    assert "DataAnomaliesError" in process.stderr and "rating:" in process.stderr
    run = latest(output_dir)
    assert run.component_states["AnomaliesGate"] == "FAILED"
    assert not {"Transform", "Trainer", "Evaluator"} & set(run.component_states)
    assert versions(os.path.join(output_dir, "serving", "imdb-lstm")) == []
    # The run that stopped still has a report: its data, with the anomalies, and no verdict.
    page = str(tmp_path / "stopped.html")
    rendered = report(output_dir, "latest", "--out", page)
    assert rendered.returncode == 0, rendered.stderr
    keys, _ = open_page(browser, page, str(tmp_path / "stopped.png"))  # as a user opens it
    assert int(keys["data.anomalies"]) >= 1
    assert keys["gate.blessed"] == "No evaluation: the run stopped before the Evaluator."
    assert "] rating: " in open(page).read()  # the anomaly, named


def test_tfx_cli_creates_and_runs_the_local_pipeline(tmp_path, data):
    output_dir = str(tmp_path / "out")
    env = {**os.environ, "LOCAL_HOME": str(tmp_path / "tfx_home"),
           "IMDB_LSTM_PIPELINE_NAME": "imdb-lstm-tfx-cli", "IMDB_LSTM_DATA": data,
           "IMDB_LSTM_OUTPUT_DIR": output_dir, "IMDB_LSTM_MIN_ACCURACY": "0",
           "IMDB_LSTM_MIN_AUC": "0",
           "IMDB_LSTM_TRAINER_EPOCHS": "1", "IMDB_LSTM_TRAINER_VOCAB_SIZE": "200",
           "IMDB_LSTM_TRAINER_SEQUENCE_LENGTH": "32"}
    tfx = os.path.join(BIN, "tfx")
    create = subprocess.run([tfx, "pipeline", "create", "--engine=local",
                             "--pipeline_path", "cli/tfx_cli_pipeline.py"],
                            capture_output=True, text=True, env=env, cwd=PROJECT_ROOT,
                            timeout=300)
    assert create.returncode == 0, create.stderr
    assert 'Pipeline "imdb-lstm-tfx-cli" created successfully.' in create.stdout
    assert latest(output_dir, "imdb-lstm-tfx-cli") is None  # creating runs nothing
    run = subprocess.run([tfx, "run", "create", "--engine=local",
                          "--pipeline_name", "imdb-lstm-tfx-cli"],
                         capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=900)
    assert run.returncode == 0, run.stderr
    result = latest(output_dir, "imdb-lstm-tfx-cli")
    assert set(result.component_states.values()) == {"COMPLETE"}
    assert result.pushed and result.new_version


def test_production_gates_refuse_a_model_below_them(data, tmp_path):
    """The default bounds (accuracy 0.85, AUC 0.90 on the whole test split), which a model of a
    few hundred generated reviews does not reach: refused on its values alone (no baseline)."""
    output_dir = str(tmp_path / "out")
    process = imdb_lstm("--data", data, "--output-dir", output_dir, *FAST_TRAINING)
    assert process.returncode == 0, process.stderr
    run = latest(output_dir)
    assert run.blessed is False and not run.pushed
    assert versions(os.path.join(output_dir, "serving", "imdb-lstm")) == []
    with open(os.path.join(os.path.dirname(run.report_path), "summary.json")) as f:
        gate = json.load(f)["gate"]
    failed = {(row["metric"], row["check"], row["threshold"])
              for row in gate["thresholds"] if row["passed"] is False}
    assert ("binary_accuracy", "lower_bound", 0.85) in failed
    assert run.metrics["binary_accuracy"] < 0.85
    assert "blessed: NO (binary_accuracy lower_bound on test" in process.stderr
