"""The local launcher's pieces on a real compiled package: the order of tasks, the inputs it
resolves, the placeholders it fills, the executor kinds it refuses and the cache key
(tests/test_kubeflow_run_local.py runs whole packages)."""
import copy
import json
import sys

import pytest

from kubeflow import launcher, run_local, runner
from kubeflow.launcher import LaunchError, TaskOutputs
from kubeflow.settings import KubeflowSettings
from pipeline import config as pipeline_config


def compile_package(tmp, baseline, **overrides):
    config = pipeline_config.load(overrides={"data": "gs://bucket/data/aclImdb_v1.tar.gz",
                                             "output_dir": str(tmp), **overrides}, environ={})
    return runner.compile_package(config, KubeflowSettings(image="img:1", baseline=baseline),
                                  str(tmp / "package.yaml"))


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("package")
    return compile_package(tmp, "none", pretrained_model=str(tmp / "lm"))


def test_tasks_run_after_every_task_they_read_from(package):
    order = run_local.task_order(package)
    assert sorted(order) == sorted(package["root"]["dag"]["tasks"])
    for name, task in package["root"]["dag"]["tasks"].items():
        for source in task.get("inputs", {}).get("artifacts", {}).values():
            assert order.index(source["taskOutputArtifact"]["producerTask"]) < order.index(name)


def test_a_dependency_cycle_is_named(package):
    package = copy.deepcopy(package)
    tasks = package["root"]["dag"]["tasks"]
    tasks["ImdbExampleGen"]["dependentTasks"] = ["EvaluationReport"]
    with pytest.raises(LaunchError, match="depend on each other"):
        run_local.task_order(package)


def _given(component, parameters, artifacts=None):
    return launcher.executor_input(component, parameters, artifacts or {}, "/root/run/Task",
                                   "run", "Task")


def test_the_executor_input_fills_the_command_line(package):
    trainer = package["components"]["Trainer"]
    container = package["deploymentSpec"]["executors"][trainer["executorLabel"]]["container"]
    examples = [{"name": "run/Transform/transformed_examples", "uri": "/root/run/Transform/x",
                 "type": {"schemaTitle": "tfx.Examples"}, "metadata": {}}]
    given = _given(trainer, {"run_fn": "trainer.tfx_module.run_fn"}, {"examples": examples})
    line = launcher.command_line(container, given, "/venv/bin/python")
    assert line[:3] == ["/venv/bin/python", "-m",
                        "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
    invocation = json.loads(line[line.index("--json_serialized_invocation_args") + 1])
    assert invocation["inputs"]["artifacts"]["examples"]["artifacts"] == examples
    assert invocation["outputs"]["artifacts"]["model"]["artifacts"][0]["uri"] == \
        "/root/run/Task/model"
    assert invocation["outputs"]["outputFile"] == "/root/run/Task/executor_output.json"


def test_named_placeholders_are_filled_and_unknown_ones_fail():
    given = {"inputs": {"parameterValues": {"n": 3}, "artifacts": {"a": {"artifacts": [
        {"uri": "/in/a"}]}}}, "outputs": {"artifacts": {"m": {"artifacts": [{"uri": "/out/m"}]}},
        "parameters": {"p": {"outputFile": "/out/p"}}}}
    assert launcher.fill("--n={{$.inputs.parameters['n']}}", given) == "--n=3"
    assert launcher.fill("{{$.inputs.artifacts['a'].uri}}:{{$.outputs.artifacts['m'].uri}}",
                         given) == "/in/a:/out/m"
    assert launcher.fill("{{$.outputs.parameters['p'].output_file}}", given) == "/out/p"
    with pytest.raises(LaunchError, match=r"placeholder \{\{\$.inputs.artifacts\['a'\].path\}\}"):
        launcher.fill("{{$.inputs.artifacts['a'].path}}", given)


def test_parameters_come_from_constants_runtime_values_and_upstream_outputs():
    task = {"inputs": {"parameters": {
        "constant": {"runtimeValue": {"constant": "x"}},
        "root": {"componentInputParameter": "data_root"},
        "upstream": {"taskOutputParameter": {"producerTask": "A", "outputParameterKey": "k"}}}}}
    values = launcher.input_parameters(task, {"data_root": "/data"},
                                       {"A": TaskOutputs({}, {"k": 7})})
    assert values == {"constant": "x", "root": "/data", "upstream": 7}
    task["inputs"]["parameters"]["odd"] = {"taskFinalStatus": {}}
    with pytest.raises(LaunchError, match="does not resolve"):
        launcher.input_parameters(task, {"data_root": "/data"}, {"A": TaskOutputs({}, {"k": 7})})


def test_runtime_parameters_take_the_defaults_unless_given(package):
    assert run_local.runtime_parameters(package, {}) == {"data_root": "gs://bucket/data"}
    assert run_local.runtime_parameters(package, {"data_root": "/other"}) == {
        "data_root": "/other"}


def test_an_importer_yields_the_artifact_at_its_uri(package):
    component = package["components"]["PretrainedModelImporter"]
    executor = run_local._executor(package, component)
    outputs = run_local.imported(executor["importer"], component, {})
    [artifact] = outputs.artifacts["result"]
    assert artifact["uri"].endswith("/lm") and "tfx.Model" in json.dumps(artifact["type"])
    # Another run importing the same URI shares the artifact (and so the cache downstream).
    assert run_local.imported(executor["importer"], component, {}) == outputs


def test_a_resolver_task_is_refused_by_name(tmp_path):
    package = compile_package(tmp_path, "latest-blessed")  # two resolver tasks
    component = package["components"]["latest_blessed_model_resolver-model-resolver"]
    with pytest.raises(LaunchError, match="'resolver' executor.*--baseline none"):
        run_local._executor(package, component)


def test_the_cache_key_follows_inputs_parameters_and_the_command(package):
    trainer = package["components"]["Trainer"]
    container = package["deploymentSpec"]["executors"][trainer["executorLabel"]]["container"]
    examples = [{"name": "run/Transform/transformed_examples", "uri": "/x", "type": {},
                 "metadata": {}}]
    key = run_local.cache_key(trainer, container, _given(trainer, {"n": 1},
                                                         {"examples": examples}))
    assert key == run_local.cache_key(trainer, container, _given(trainer, {"n": 1},
                                                                 {"examples": examples}))
    assert key != run_local.cache_key(trainer, container, _given(trainer, {"n": 2},
                                                                 {"examples": examples}))
    other = [{**examples[0], "name": "run2/Transform/transformed_examples"}]
    assert key != run_local.cache_key(trainer, container, _given(trainer, {"n": 1},
                                                                 {"examples": other}))
    changed = {**container, "image": "other:2"}
    assert key != run_local.cache_key(trainer, changed, _given(trainer, {"n": 1},
                                                               {"examples": examples}))


def test_a_running_command_says_so_and_a_failing_one_names_its_status(tmp_path):
    image = launcher.Image(workdir=str(tmp_path), env={})
    beats = []
    launcher.run_command([sys.executable, "-c", "import time; time.sleep(1)"], image,
                         str(tmp_path / "log"), 0.2, beats.append)
    assert len(beats) >= 3 and beats == sorted(beats)
    with pytest.raises(LaunchError, match="exited with status 3"):
        launcher.run_command([sys.executable, "-c", "print('why'); raise SystemExit(3)"], image,
                             str(tmp_path / "log"), 5, beats.append)
    assert (tmp_path / "log").read_text().strip() == "why"


def test_a_condition_on_a_task_is_refused_not_ignored(package, tmp_path):
    package = copy.deepcopy(package)
    first = run_local.task_order(package)[0]
    package["root"]["dag"]["tasks"][first]["triggerPolicy"] = {
        "condition": "inputs.parameter_values['data_root'] == 'x'"}
    package["defaultPipelineRoot"] = str(tmp_path / "root")
    with pytest.raises(LaunchError, match=rf"{first}: .*conditions or loops "
                                          r"\(\['triggerPolicy'\]\)"):
        run_local.run(package, str(tmp_path / "work"), {}, say=lambda line: None)
