"""`imdb-lstm kubeflow compile` and `submit`: the package against the kfp-pipeline-spec protos
and the local DAG, the kfp SDK's reading of it, and submission to a contract test double of the
KFP v2beta1 REST API (tests/kfp_contract_server.py; it is not a cluster)."""
import json
import os

import kfp.components
import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from kfp_contract_server import ContractServer
from pipeline import config as pipeline_config
from pipeline.local_runner import local_platform
from pipeline.pipeline import BASELINE_RESOLVER_ID, create_pipeline
from pipeline_runs import PROJECT_ROOT, imdb_lstm

# Compiles through the `imdb-lstm` console script, in subprocesses.
pytestmark = pytest.mark.e2e

IMAGE = "registry.example.com/imdb-lstm:test"
DATA = "gs://imdb-bucket/data/aclImdb_v1.tar.gz"
OUTPUT_DIR = "gs://imdb-bucket/runs"
COMPILE = ["--image", IMAGE, "--data", DATA, "--output-dir", OUTPUT_DIR, "--epochs", "3",
           "--trainer-cpu", "8", "--trainer-memory-gb", "32",
           "--trainer-accelerator", "NVIDIA_TESLA_T4", "--trainer-accelerator-count", "1",
           "--beam-arg=--runner=DataflowRunner", "--beam-arg=--region=europe-west4"]


def kubeflow(*args):
    return imdb_lstm(*args, command="kubeflow")


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    out = tmp_path_factory.mktemp("kfp")
    paths = {}
    for baseline in ("none", "latest-blessed"):
        paths[baseline] = str(out / f"{baseline}.yaml")
        process = kubeflow("compile", *COMPILE, "--baseline", baseline,
                           "--package", paths[baseline], "--vertex-job", str(out / "job.json"))
        assert process.returncode == 0, process.stderr
        assert f"{paths[baseline]}: " in process.stdout
    return paths


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def edges(spec):
    """{task: upstream tasks}, from explicit dependencies and artifact producers."""
    found = {}
    for name, task in spec["root"]["dag"]["tasks"].items():
        upstream = set(task.get("dependentTasks", []))
        for artifact in task.get("inputs", {}).get("artifacts", {}).values():
            producer = artifact.get("taskOutputArtifact", {}).get("producerTask")
            if producer:
                upstream.add(producer)
        found[name] = upstream
    return found


def test_package_is_a_pipeline_spec_with_the_local_dag(packages, tiny_archive):
    spec = load(packages["none"])
    proto = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # strict: no unknowns
    assert proto.pipeline_info.name == "imdb-lstm"
    assert proto.default_pipeline_root == f"{OUTPUT_DIR}/pipelines/imdb-lstm"

    config = pipeline_config.load(overrides={"data": tiny_archive}, environ={})
    local = create_pipeline(config, local_platform(config))
    local_edges = {c.id: {u.id for u in c.upstream_nodes} for c in local.components
                   if c.id != BASELINE_RESOLVER_ID}
    local_edges = {node: upstream - {BASELINE_RESOLVER_ID}
                   for node, upstream in local_edges.items()}
    assert edges(spec) == local_edges
    # The report's slices are computed once the model is pushed, not before.
    assert "VersionedPusher" in edges(spec)["SlicedEvaluator"]
    assert "SlicedEvaluator" in edges(spec)["EvaluationReport"]


def test_image_resources_beam_args_and_runtime_parameter_are_where_kfp_reads_them(packages):
    spec = load(packages["none"])
    executors = spec["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {IMAGE}
    components = spec["components"]
    trainer = executors[components[spec["root"]["dag"]["tasks"]["Trainer"]["componentRef"]
                                   ["name"]]["executorLabel"]]["container"]
    assert trainer["resources"]["cpuLimit"] == 8
    assert trainer["resources"]["memoryLimit"] == 32
    assert trainer["resources"]["accelerator"] == {"type": "NVIDIA_TESLA_T4", "count": "1"}
    example_gen = executors[components[spec["root"]["dag"]["tasks"]["ImdbExampleGen"]
                                       ["componentRef"]["name"]]["executorLabel"]]["container"]
    assert "--runner=DataflowRunner" in example_gen["args"]
    assert "--region=europe-west4" in example_gen["args"]
    schema_file = spec["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"]["parameters"][
        "schema_file"]["runtimeValue"]["constant"]
    assert schema_file == "schemas/schema.pbtxt"  # in the image's working directory
    data_root = spec["root"]["inputDefinitions"]["parameters"]["data_root"]
    assert data_root == {"parameterType": "STRING", "defaultValue": "gs://imdb-bucket/data",
                         "isOptional": True}
    # The trainer config travels inside the Trainer's custom_config.
    custom_config = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"][
        "custom_config"]["runtimeValue"]["constant"]
    assert json.loads(custom_config)["trainer"]["epochs"] == 3


def test_kfp_sdk_loads_the_package(packages):
    component = kfp.components.load_component_from_file(packages["none"])
    assert component.name == "imdb-lstm"
    assert component.component_spec.inputs["data_root"].default == "gs://imdb-bucket/data"


def test_latest_blessed_baseline_compiles_to_resolver_tasks_for_vertex(packages):
    spec = load(packages["latest-blessed"])
    tasks = spec["root"]["dag"]["tasks"]
    # TFX compiles the resolver to two tasks: blessings, then the model they name.
    assert {name for name in tasks if name.startswith(BASELINE_RESOLVER_ID)} == {
        f"{BASELINE_RESOLVER_ID}-model-blessing-resolver", f"{BASELINE_RESOLVER_ID}-model-resolver"}
    assert f"{BASELINE_RESOLVER_ID}-model-resolver" in edges(spec)["Evaluator"]
    executors = spec["deploymentSpec"]["executors"]
    assert any("outputArtifactQueries" in e.get("resolver", {}) for e in executors.values())


def submit(package, host, *args):
    return kubeflow("submit", "--host", host, "--package", package, *args)


def test_submit_sends_the_package_to_the_kfp_api(packages):
    spec = load(packages["none"])
    with ContractServer() as server:
        process = submit(packages["none"], server.url, "--experiment", "imdb-nightly",
                         "--run-name", "nightly-1", "--param", "data_root=gs://imdb-bucket/new",
                         "--token", "secret-token")
    assert process.returncode == 0, process.stderr
    assert f"run run-1: {server.url}/#/runs/details/run-1" in process.stdout
    assert all(r["headers"].get("authorization") == "Bearer secret-token"
               for r in server.requests)
    experiment, = server.posted("/experiments")
    assert experiment["body"]["display_name"] == "imdb-nightly"
    run, = server.posted("/runs")
    body = run["body"]
    assert body["display_name"] == "nightly-1"
    assert body["experiment_id"] == "experiment-1"
    assert body["pipeline_spec"] == spec
    assert body["runtime_config"] == {"parameters": {"data_root": "gs://imdb-bucket/new"},
                                      "pipeline_root": f"{OUTPUT_DIR}/pipelines/imdb-lstm"}


def test_submit_refuses_resolver_tasks_before_calling_the_api(packages):
    with ContractServer() as server:
        process = submit(packages["latest-blessed"], server.url)
    assert process.returncode == 1
    assert "open-source KFP does not execute" in process.stderr
    assert "--baseline none" in process.stderr
    assert server.requests == []


def test_submit_explains_an_unknown_runtime_parameter(packages):
    process = submit(packages["none"], "http://127.0.0.1:9", "--param", "epochs=3")
    assert process.returncode == 1
    assert "no such runtime parameter; it has ['data_root']" in process.stderr


def test_submit_explains_an_unreachable_host(packages):
    process = submit(packages["none"], "http://127.0.0.1:9")
    assert process.returncode == 1
    assert "cannot reach Kubeflow Pipelines at http://127.0.0.1:9" in process.stderr


def test_submit_explains_a_rejected_package(packages):
    with ContractServer(reject_runs=True) as server:
        process = submit(packages["none"], server.url)
    assert process.returncode == 1
    assert "rejected the run: HTTP 400" in process.stderr
    assert "invalid pipeline spec" in process.stderr


def test_compile_refuses_data_the_pods_cannot_read(tmp_path):
    process = kubeflow("compile", "--image", IMAGE, "--data",
                       "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                       "--package", str(tmp_path / "p.yaml"))
    assert process.returncode == 2
    assert "not an http(s) URL" in process.stderr
    assert not os.path.exists(tmp_path / "p.yaml")


def test_dockerfile_matches_the_installed_tfx_and_the_compiled_paths():
    """No Docker engine here: what can be checked without building the image."""
    from tfx import version
    from kubeflow.settings import IMAGE_PROJECT_DIR
    with open(os.path.join(PROJECT_ROOT, "Dockerfile")) as f:
        dockerfile = f.read()
    assert f"FROM gcr.io/tfx-oss-public/tfx:{version.__version__}\n" in dockerfile
    assert f"WORKDIR {IMAGE_PROJECT_DIR}\n" in dockerfile
    for folder in ("cli", "pipeline", "components", "trainer", "kubeflow", "streaming",
                   "imdb_lstm", "schemas"):
        assert f"COPY {folder}/ {folder}/" in dockerfile


def test_pretraining_compiles_to_a_pretrainer_that_feeds_the_trainer(tmp_path):
    package = str(tmp_path / "pretraining.yaml")
    process = kubeflow("compile", *COMPILE, "--baseline", "none", "--package", package,
                       "--pretrain-epochs", "2")
    assert process.returncode == 0, process.stderr
    spec = load(package)
    tasks = spec["root"]["dag"]["tasks"]
    assert edges(spec)["Pretrainer"] == {"UnlabelledImdbExampleGen", "Transform"}
    assert tasks["Trainer"]["inputs"]["artifacts"]["base_model"]["taskOutputArtifact"] == {
        "producerTask": "Pretrainer", "outputArtifactKey": "model"}
    parameters = tasks["Pretrainer"]["inputs"]["parameters"]
    assert parameters["run_fn"]["runtimeValue"]["constant"] == \
        "trainer.tfx_pretrainer_module.run_fn"
    settings = json.loads(parameters["custom_config"]["runtimeValue"]["constant"])["trainer"]
    assert settings["pretrain_epochs"] == 2 and "variant" not in settings
    # No --unlabelled-data: the unlabelled reviews come from the same (runtime) data root.
    assert tasks["UnlabelledImdbExampleGen"]["inputs"]["parameters"]["input_base"] == {
        "componentInputParameter": "data_root"}
    executors = spec["deploymentSpec"]["executors"]
    pretrainer = executors[spec["components"][tasks["Pretrainer"]["componentRef"]["name"]]
                           ["executorLabel"]]["container"]
    assert pretrainer["resources"]["accelerator"] == {"type": "NVIDIA_TESLA_T4", "count": "1"}


def test_an_earlier_pretrainers_model_is_imported_for_the_trainer(tmp_path):
    package = str(tmp_path / "imported.yaml")
    model_dir = "gs://bucket/imdb/pipelines/imdb-lstm/Pretrainer/model/9"
    process = kubeflow("compile", *COMPILE, "--baseline", "none", "--package", package,
                       "--pretrained-model", model_dir)
    assert process.returncode == 0, process.stderr
    spec = load(package)
    tasks = spec["root"]["dag"]["tasks"]
    assert "Pretrainer" not in tasks and "UnlabelledImdbExampleGen" not in tasks
    assert tasks["Trainer"]["inputs"]["artifacts"]["base_model"]["taskOutputArtifact"] == {
        "producerTask": "PretrainedModelImporter", "outputArtifactKey": "result"}
    importer = spec["deploymentSpec"]["executors"][spec["components"][
        tasks["PretrainedModelImporter"]["componentRef"]["name"]]["executorLabel"]]["importer"]
    assert importer["artifactUri"]["constant"] == model_dir


def test_continuous_training_compiles_with_the_span_as_a_runtime_parameter(tmp_path):
    package = str(tmp_path / "spans.yaml")
    process = kubeflow("compile", *COMPILE, "--baseline", "none", "--package", package,
                       "--landing", "gs://imdb-bucket/landing", "--window", "4",
                       "--eval-data", DATA)
    assert process.returncode == 0, process.stderr
    spec = load(package)
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters == {"span": {"parameterType": "NUMBER_INTEGER", "defaultValue": 0,
                                   "isOptional": True}}
    tasks = spec["root"]["dag"]["tasks"]
    assert "ImdbExampleGen" not in tasks
    span_inputs = tasks["SpanExampleGen"]["inputs"]["parameters"]
    assert span_inputs["span"] == {"componentInputParameter": "span"}
    assert span_inputs["window"]["runtimeValue"]["constant"] == 4
    assert span_inputs["landing"]["runtimeValue"]["constant"] == "gs://imdb-bucket/landing"
    assert span_inputs["test_data_base"]["runtimeValue"]["constant"] == "gs://imdb-bucket/data"
    # span 0 is whichever span is newest when a run starts: never taken from the cache.
    assert tasks["SpanExampleGen"]["cachingOptions"] == {"enableCache": False}
    assert tasks["Transform"]["cachingOptions"] == {"enableCache": True}
    # Drift stops the run before Transform, and the Trainer warm-starts from the serving dir.
    assert "DriftGate" in edges(spec)["Transform"]
    custom_config = json.loads(
        tasks["Trainer"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constant"])
    assert custom_config["warm_start_from"] == f"{OUTPUT_DIR}/serving/imdb-lstm"


def test_schedule_creates_a_recurring_run_of_the_continuous_training_package(tmp_path):
    package = str(tmp_path / "spans.yaml")
    process = kubeflow("compile", *COMPILE, "--baseline", "none", "--package", package,
                       "--landing", "gs://imdb-bucket/landing")
    assert process.returncode == 0, process.stderr
    with ContractServer() as server:
        wrong = kubeflow("schedule", "--host", server.url, "--package", package,
                         "--cron", "0 * * * *")
        process = kubeflow("schedule", "--host", server.url, "--package", package,
                           "--cron", "0 0 * * * *", "--experiment", "imdb-stream",
                           "--param", "span=0")
    assert wrong.returncode == 1 and "six fields, seconds first" in wrong.stderr
    assert process.returncode == 0, process.stderr
    assert f"recurring run recurring-1: {server.url}/#/recurringrun/details/recurring-1" \
        in process.stdout
    experiment, = server.posted("/experiments")
    assert experiment["body"]["display_name"] == "imdb-stream"
    recurring, = server.posted("/recurringruns")
    body = recurring["body"]
    assert body["trigger"] == {"cron_schedule": {"cron": "0 0 * * * *"}}
    assert body["max_concurrency"] == 1 and body["mode"] == "ENABLE"
    assert body["experiment_id"] == "experiment-1"
    # As protos: JSON leaves out a false enableCache, the proto's default.
    sent, compiled = (json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
                      for spec in (body["pipeline_spec"], load(package)))
    assert sent == compiled
    assert body["runtime_config"] == {"parameters": {"span": 0},
                                      "pipeline_root": f"{OUTPUT_DIR}/pipelines/imdb-lstm"}


def test_tuning_compiles_to_a_tuner_whose_best_hyperparameters_feed_the_trainer(tmp_path):
    package = str(tmp_path / "tuning.yaml")
    process = kubeflow("compile", *COMPILE, "--baseline", "none", "--package", package,
                       "--tune-trials", "4")
    assert process.returncode == 0, process.stderr
    spec = load(package)
    tasks = spec["root"]["dag"]["tasks"]
    assert edges(spec)["Tuner"] == {"Transform"}
    assert tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"] == {
        "producerTask": "Tuner", "outputArtifactKey": "best_hyperparameters"}
    parameters = tasks["Tuner"]["inputs"]["parameters"]
    assert parameters["tuner_fn"]["runtimeValue"]["constant"] == "trainer.tfx_module.tuner_fn"
