"""Runs of the whole pipeline on tiny synthetic data, shared by the end-to-end and report tests:
each goes through the `imdb-lstm` console script in a subprocess, the way users run it."""
import html.parser
import os
import subprocess
import sys

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from pipeline import outcome

BIN = os.path.dirname(sys.executable)
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST_TRAINING = ["--epochs", "1", "--vocab-size", "200", "--sequence-length", "32",
                 "--embedding-dim", "16", "--lstm-units", "8", "--dense-units", "8"]
# Tiny models cannot reach the default gates; runs that should be blessed lower them.
NO_VALUE_GATES = ["--min-accuracy", "0", "--min-auc", "0"]
# Ten epochs of small batches learn the synthetic data (test accuracy 0.63 on its 100 test
# reviews, 2026-12-06); the patience lets them, since early stopping on 11 eval reviews is
# noisy. One epoch at a tiny learning rate learns nothing, so that model falls far below the
# first and the change threshold refuses it.
GOOD_MODEL = ["--epochs", "10", "--learning-rate", "0.005", "--batch-size", "8",
              "--early-stopping-patience", "10"]
WORSE_MODEL = ["--epochs", "1", "--learning-rate", "0.00001"]
ALL_NODES = {"ImdbExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
             "AnomaliesGate", "Transform", "Trainer", "latest_blessed_model_resolver",
             "Evaluator", "VersionedPusher", "SlicedEvaluator", "EvaluationReport"}


def imdb_lstm(*args, command="run"):
    return subprocess.run([os.path.join(BIN, "imdb-lstm"), command, *args], capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=900)


def versions(serving_dir):
    return sorted(v for v in os.listdir(serving_dir) if v.isdigit()) \
        if os.path.isdir(serving_dir) else []


def metadata_path(output_dir, name="imdb-lstm"):
    return os.path.join(output_dir, "metadata", name, "metadata.db")


def input_uris(output_dir, node_id, name="imdb-lstm"):
    """{input key: sorted URIs} of the last execution of `node_id`, from ML Metadata's events."""
    store = mlmd.MetadataStore(
        metadata.sqlite_metadata_connection_config(metadata_path(output_dir, name)))
    node = store.get_context_by_type_and_name("node", f"{name}.{node_id}")
    execution = max(store.get_executions_by_context(node.id), key=lambda e: e.id)
    inputs = {}
    for event in store.get_events_by_execution_ids([execution.id]):
        if event.type == metadata_store_pb2.Event.INPUT:
            [artifact] = store.get_artifacts_by_id([event.artifact_id])
            inputs.setdefault(event.path.steps[0].key, []).append(artifact.uri)
    return {key: sorted(uris) for key, uris in inputs.items()}


def latest(output_dir, name="imdb-lstm"):
    return outcome.latest_run(metadata_path(output_dir, name), name)


def three_runs(data, output_dir):
    """first (blessed, pushed); a cached re-run; a worse model the gate refuses."""
    common = ["--data", data, "--output-dir", output_dir, *FAST_TRAINING, *NO_VALUE_GATES]
    results = {}
    for name, extra in [("first", GOOD_MODEL), ("rerun", GOOD_MODEL), ("worse", WORSE_MODEL)]:
        process = imdb_lstm(*common, *extra)
        assert process.returncode == 0, process.stderr
        results[name] = (process, latest(output_dir), versions(
            os.path.join(output_dir, "serving", "imdb-lstm")))
    results["output_dir"] = output_dir
    return results


def report(output_dir, *args):
    return imdb_lstm("--output-dir", output_dir, *args, command="report")


class _DataKeys(html.parser.HTMLParser):
    """{data-key: text} of a page, without a browser (for pages already checked in one)."""

    _VOID = {"br", "img", "meta", "hr", "input", "link"}  # elements without an end tag

    def __init__(self):
        super().__init__()
        self.keys, self._open = {}, []

    def handle_starttag(self, tag, attrs):
        if tag in self._VOID:
            return
        key = dict(attrs).get("data-key")
        self._open.append(key)
        if key:
            self.keys[key] = ""

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()

    def handle_data(self, data):
        for key in filter(None, self._open):
            self.keys[key] += data


def data_keys(path):
    parser = _DataKeys()
    with open(path) as f:
        parser.feed(f.read())
    return {key: " ".join(text.split()) for key, text in parser.keys.items()}
