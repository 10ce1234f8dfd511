"""`imdb-lstm kubeflow run-local`: packages compiled by `imdb-lstm kubeflow compile` on tiny data,
run task by task from their own container command lines, checked for what a cluster run would
give: a blessed model pushed under the output dir's serving dir that scores raw text, the report
artifact, the `data_root` parameter obeyed, and the cache reusing only what it should."""
import glob
import json
import os
import re
import signal
import subprocess

import pytest
import tensorflow as tf
import yaml

import synthetic_imdb
from pipeline_runs import BIN, FAST_TRAINING, NO_VALUE_GATES, imdb_lstm, versions

pytestmark = pytest.mark.e2e

ENTRYPOINT = ["-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
DATA_TASKS = {"ImdbExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator",
              "AnomaliesGate", "Transform"}


def compile_package(data, output_dir, package, *extra):
    process = imdb_lstm("compile", "--image", "registry.example.com/imdb-lstm:test",
                        "--data", data, "--output-dir", output_dir, "--baseline", "none",
                        "--package", package, *FAST_TRAINING, *NO_VALUE_GATES, *extra,
                        command="kubeflow")
    assert process.returncode == 0, process.stderr
    with open(package) as f:
        return yaml.safe_load(f)


def run_local(package, work_dir, *params):
    process = imdb_lstm("run-local", package, "--work-dir", work_dir,
                        *[f"--param={p}" for p in params], command="kubeflow")
    assert process.returncode == 0, process.stderr
    [run_id] = re.findall(r"^run (run-\S+): ", process.stdout, re.MULTILINE)
    with open(os.path.join(work_dir, "runs", run_id, "run.json")) as f:
        return {task["name"]: task for task in json.load(f)}


def executor_class(spec, task_name):
    component = spec["components"][spec["root"]["dag"]["tasks"][task_name]["componentRef"]["name"]]
    args = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]["args"]
    return args[args.index("--executor_class_path") + 1]


def invocation(task):
    """The executor input JSON the task's command line carried."""
    return json.loads(task["command"][task["command"].index("--json_serialized_invocation_args")
                                      + 1])


def output_uri(tasks, task_name, key):
    [artifact] = tasks[task_name]["outputs"]["artifacts"][key]
    return artifact["uri"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two packages compiled into one output dir and run by one work dir: with pretraining
    (twice), then without, then without on other data."""
    root = tmp_path_factory.mktemp("run_local")
    # The same file name in two folders: `data_root` alone picks which one a run reads.
    first, other = root / "first", root / "other"
    first.mkdir()
    other.mkdir()
    data = synthetic_imdb.write_archive(str(first / "aclImdb.tar.gz"), per_folder=30,
                                        unlabelled=60)
    synthetic_imdb.write_archive(str(other / "aclImdb.tar.gz"), per_folder=20, seed=7)
    output_dir, work_dir = str(root / "out"), str(root / "work")
    packages = {"pretrain": str(root / "pretrain.yaml"), "plain": str(root / "plain.yaml")}
    specs = {"pretrain": compile_package(data, output_dir, packages["pretrain"],
                                         "--pretrain-epochs", "1"),
             "plain": compile_package(data, output_dir, packages["plain"])}
    serving = os.path.join(output_dir, "serving", "imdb-lstm")
    results = {"specs": specs, "serving": serving}
    for name, package, params in [("pretrain", "pretrain", []), ("again", "pretrain", []),
                                  ("plain", "plain", []),
                                  ("other_data", "plain", [f"data_root={other}"])]:
        results[name] = run_local(packages[package], work_dir, *params)
        results[f"{name}_versions"] = versions(serving)
    return results


def cached(tasks):
    return {name for name, task in tasks.items() if task["cached"]}


def test_every_task_runs_from_its_own_command_line_and_a_blessed_model_is_pushed(runs):
    spec, tasks = runs["specs"]["pretrain"], runs["pretrain"]
    assert set(tasks) == set(spec["root"]["dag"]["tasks"])
    assert {"Pretrainer", "UnlabelledImdbExampleGen"} <= set(tasks) and not cached(tasks)
    for name, task in tasks.items():
        assert task["command"][1:3] == ENTRYPOINT, name
        assert task["command"][task["command"].index("--executor_class_path") + 1] == \
            executor_class(spec, name)
    # The Trainer started from the language model the Pretrainer wrote in this run.
    [base_model] = invocation(tasks["Trainer"])["inputs"]["artifacts"]["base_model"]["artifacts"]
    assert base_model["uri"] == output_uri(tasks, "Pretrainer", "model")

    [version] = runs["pretrain_versions"]
    report = output_uri(tasks, "EvaluationReport", "report")
    with open(os.path.join(report, "summary.json")) as f:
        gate = json.load(f)["gate"]
    assert gate["blessed"] and gate["pushed_version"] == version
    assert os.path.exists(os.path.join(report, "report.html"))
    model = tf.saved_model.load(os.path.join(runs["serving"], version))
    scores = model.signatures["serving_raw_text"](
        review=tf.constant(["a wonderful film", "dull and awful"]))["probabilities"].numpy()
    assert scores.shape == (2, 1) and ((0 < scores) & (scores < 1)).all()


def test_the_same_package_again_comes_whole_from_the_cache(runs):
    assert cached(runs["again"]) == set(runs["again"])
    assert runs["again_versions"] == runs["pretrain_versions"]  # nothing pushed again


def test_another_package_reuses_the_data_tasks_and_trains_anew(runs):
    tasks = runs["plain"]
    assert cached(tasks) == DATA_TASKS
    assert "base_model" not in invocation(tasks["Trainer"])["inputs"]["artifacts"]
    assert len(runs["plain_versions"]) == 2


def test_data_root_picks_the_data_and_everything_it_feeds_runs_again(runs):
    tasks = runs["other_data"]
    # The schema reads nothing of the data: reused. Everything downstream of the data ran.
    assert cached(tasks) == {"ImportSchemaGen"}
    counts = [sum(1 for path in glob.glob(os.path.join(output_uri(run, "ImdbExampleGen",
                                                                  "examples"), "Split-*", "*"))
                  for _ in tf.data.TFRecordDataset(path, compression_type="GZIP"))
              for run in (runs["plain"], tasks)]
    # 30, then 20 reviews in each of train/pos, train/neg, test/pos and test/neg.
    assert counts == [120, 80]
    assert len(runs["other_data_versions"]) == 3


def _stopped_after(command, finished):
    """Runs `command`, sends SIGTERM once `finished` tasks have ended; its exit status, its
    lines and the run id."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stderr:
        lines.append(line)
        if len([ln for ln in lines if re.search(r": (cached|ran in)", ln)]) == finished:
            process.send_signal(signal.SIGTERM)
            break
    lines += process.stderr.readlines()
    [run_id] = re.findall(r"^run (run-\S+): ", "".join(lines), re.MULTILINE)
    return process.wait(timeout=60), "".join(lines), run_id


def test_a_stopped_run_kills_its_task_and_the_same_command_goes_on(tmp_path):
    data = synthetic_imdb.write_archive(str(tmp_path / "aclImdb.tar.gz"), per_folder=10)
    package, work_dir = str(tmp_path / "p.yaml"), str(tmp_path / "work")
    compile_package(data, str(tmp_path / "out"), package)
    command = [os.path.join(BIN, "imdb-lstm"), "kubeflow", "run-local", package,
               "--work-dir", work_dir]
    status, stderr, run_id = _stopped_after(command, 2)
    assert status == 143, stderr
    assert f"stopped by SIGTERM; the tasks that finished are cached in {work_dir}" in stderr
    # The task that was running was stopped with it.
    assert subprocess.run(["pgrep", "-f", run_id], capture_output=True).returncode == 1
    status, stderr, _ = _stopped_after(command, 3)
    assert status == 143, stderr
    assert len(re.findall(r": cached$", stderr, re.MULTILINE)) == 2
