"""`imdb-lstm kubeflow run-local PACKAGE --work-dir DIR [--param NAME=VALUE ...]`: runs a compiled
package on this machine, task by task in dependency order, each task's container command line as
KFP v2's launcher fills it (kubeflow/launcher.py), with this virtualenv standing in for the
image: the files the Dockerfile copies are staged in the image's working directory, which is
each task's working directory and PYTHONPATH.

What a cluster run would also do, done the same way: runtime parameters typed by the package;
output artifacts under the package's pipeline root (<root>/<run id>/<task>/<output>); TFX's
ExampleGen driver (`lifecycle.preCacheCheck`) run before the cache check, as Vertex AI runs it;
the cache keyed as KFP keys it (input artifacts, parameter values, output types, image and command
line), honouring each task's `cachingOptions`; importer tasks. What it does not: pods, Argo, the
image itself, and resolver tasks (refused, as open-source KFP refuses them).
"""
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from kubeflow import launcher
from kubeflow.launcher import Image, LaunchError, TaskOutputs

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# In each run's log directory: every task, whether it ran or came from the cache, its command
# line and seconds, and its outputs.
RUN_RECORD = "run.json"
# How often a running task says it is still running.
HEARTBEAT_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class TaskRun:
    name: str
    cached: bool
    seconds: float
    command: Optional[List[str]] = None  # the container's command line as run (None: not run)


@dataclasses.dataclass(frozen=True)
class LocalRun:
    run_id: str
    pipeline_root: str
    tasks: List[TaskRun]
    outputs: Dict[str, TaskOutputs]


def task_order(spec: Dict) -> List[str]:
    """The DAG's tasks, each after every task it depends on (dependentTasks and the producers of
    its inputs), in the package's order otherwise."""
    tasks = spec["root"]["dag"]["tasks"]
    needs = {name: set(task.get("dependentTasks", [])) | _producers(task)
             for name, task in tasks.items()}
    ordered: List[str] = []
    while len(ordered) < len(tasks):
        ready = [name for name in tasks if name not in ordered and needs[name] <= set(ordered)]
        if not ready:
            raise LaunchError(f"the tasks {sorted(set(tasks) - set(ordered))} depend on each "
                              "other or on tasks the package does not have")
        ordered.append(ready[0])
    return ordered


def _producers(task: Dict) -> set:
    inputs = task.get("inputs", {})
    sources = [spec.get("taskOutputArtifact") for spec in inputs.get("artifacts", {}).values()]
    sources += [spec.get("taskOutputParameter") for spec in inputs.get("parameters", {}).values()]
    return {source["producerTask"] for source in sources if source}


def stage_image(work_dir: str, dockerfile: str = os.path.join(PROJECT_ROOT, "Dockerfile")) -> Image:
    """The image's working directory as the Dockerfile builds it (WORKDIR, then each COPY of this
    checkout), under <work_dir>/image; python and the PATH are this virtualenv's."""
    workdir = None
    staged_root = os.path.join(work_dir, "image")
    shutil.rmtree(staged_root, ignore_errors=True)
    with open(dockerfile) as f:
        for line in f:
            words = line.split()
            if words[:1] == ["WORKDIR"]:
                workdir = words[1]
            elif words[:1] == ["COPY"]:
                *sources, target = words[1:]
                for source in sources:
                    _copy_into(os.path.join(PROJECT_ROOT, source),
                               os.path.join(staged_root, workdir.lstrip("/"), target))
    if workdir is None:
        raise LaunchError(f"{dockerfile} has no WORKDIR")
    staged = os.path.join(staged_root, workdir.lstrip("/"))
    env = {**os.environ, "PYTHONPATH": staged,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    return Image(workdir=staged, env=env)


def _copy_into(source: str, target: str) -> None:
    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        destination = os.path.join(target, os.path.basename(source)) if target.endswith("/") \
            else target
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(source, destination)


def runtime_parameters(spec: Dict, given: Dict[str, Any]) -> Dict[str, Any]:
    """The root's parameters: the package's defaults, overridden by `given` (already typed)."""
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {name: definition["defaultValue"] for name, definition in declared.items()
              if "defaultValue" in definition}
    values.update(given)
    missing = set(declared) - set(values)
    if missing:
        raise LaunchError(f"runtime parameters without a value: {sorted(missing)} (--param)")
    return values


def cache_key(component: Dict, container: Dict, given: Dict[str, Any]) -> str:
    """KFP's cache key: the input artifacts' names, the input parameter values, the output
    artifacts' types and parameters, the image and the command line before filling."""
    inputs = given["inputs"]
    fingerprint = {
        "inputArtifactNames": {key: [a["name"] for a in value["artifacts"]]
                               for key, value in inputs["artifacts"].items()},
        "inputParameterValues": inputs["parameterValues"],
        "outputArtifactsSpec": component.get("outputDefinitions", {}).get("artifacts", {}),
        "outputParametersSpec": component.get("outputDefinitions", {}).get("parameters", {}),
        "containerSpec": {"image": container.get("image"),
                          "cmdArgs": container.get("command", []) + container.get("args", [])},
    }
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


class Cache:
    """The outputs of every task that succeeded, by cache key, in <work_dir>/cache."""

    def __init__(self, work_dir: str):
        self.directory = os.path.join(work_dir, "cache")
        os.makedirs(self.directory, exist_ok=True)

    def get(self, key: str) -> Optional[TaskOutputs]:
        path = os.path.join(self.directory, key + ".json")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return TaskOutputs(**json.load(f))

    def put(self, key: str, outputs: TaskOutputs) -> None:
        path = os.path.join(self.directory, key + ".json")
        with open(path + ".partial", "w") as f:
            json.dump(dataclasses.asdict(outputs), f)
        os.replace(path + ".partial", path)


def _executor(spec: Dict, component: Dict) -> Dict:
    """The component's executor: a container or an importer; any other kind is refused."""
    label = component.get("executorLabel")
    executor = spec.get("deploymentSpec", {}).get("executors", {}).get(label)
    if executor is None:
        raise LaunchError(f"executor {label!r} is not in the package's deploymentSpec")
    kind = next(iter(executor))
    if kind not in ("container", "importer"):
        raise LaunchError(f"its executor is a {kind!r} executor; the local launcher runs "
                          "container and importer executors only (resolvers: compile with "
                          "--baseline none)")
    return executor


def imported(importer: Dict, component: Dict, parameters: Dict[str, Any]) -> TaskOutputs:
    """An importer task's one output: the artifact at its URI (a constant or a runtime
    parameter), named by that URI, so that every run importing it shares it, as KFP's importer
    without `reimport` does."""
    source = importer["artifactUri"]
    if "constant" in source:
        uri = source["constant"]
    elif "runtimeParameter" in source:
        uri = parameters[source["runtimeParameter"]]
    else:
        raise LaunchError(f"an importer with artifactUri {sorted(source)} is not supported")
    [key] = component["outputDefinitions"]["artifacts"]
    name = "imported/" + hashlib.sha256(uri.encode()).hexdigest()[:16]
    return TaskOutputs({key: [{"name": name, "type": importer["typeSchema"], "uri": uri,
                               "metadata": importer.get("metadata", {})}]}, {})


@dataclasses.dataclass
class _Run:
    """What the tasks of one run share."""
    spec: Dict
    run_id: str
    runtime: Dict[str, Any]
    image: Image
    cache: Cache
    logs: str  # the run's log directory
    say: Callable[[str], None]
    outputs: Dict[str, TaskOutputs] = dataclasses.field(default_factory=dict)

    def task_root(self, name: str) -> str:
        return os.path.join(self.spec["defaultPipelineRoot"], self.run_id, name)


def run(spec: Dict, work_dir: str, parameters: Dict[str, Any],
        say: Callable[[str], None] = print) -> LocalRun:
    """Runs every task of `spec` (a loaded package) in dependency order; `say` hears a line as
    each task starts and ends, and every HEARTBEAT_SECONDS while one runs. A task that fails
    stops the run (LaunchError naming it)."""
    work_dir = os.path.abspath(work_dir)
    run_id = time.strftime("run-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    this = _Run(spec, run_id, runtime_parameters(spec, parameters), stage_image(work_dir),
                Cache(work_dir), os.path.join(work_dir, "runs", run_id), say)
    os.makedirs(this.logs)
    order = task_order(spec)
    say(f"run {run_id}: {len(order)} tasks, pipeline root {spec['defaultPipelineRoot']}, "
        f"task logs in {this.logs}")
    tasks = []
    for number, name in enumerate(order, 1):
        step = f"[{number}/{len(order)}] {name}"
        say(f"{step} ...")
        try:
            record, this.outputs[name] = _run_task(this, name, step)
        except LaunchError as e:
            raise LaunchError(f"{name}: {e}") from e
        tasks.append(record)
        _write_record(this.logs, tasks, this.outputs)
        say(f"{step}: " + ("cached" if record.cached else f"ran in {record.seconds:.1f} s"))
    return LocalRun(run_id, spec["defaultPipelineRoot"], tasks, this.outputs)


def _write_record(logs: str, tasks: List[TaskRun], outputs: Dict[str, TaskOutputs]) -> None:
    """<logs>/run.json: each task so far, how it ran, and its outputs."""
    record = [{**dataclasses.asdict(task), "outputs": dataclasses.asdict(outputs[task.name])}
              for task in tasks]
    with open(os.path.join(logs, RUN_RECORD), "w") as f:
        json.dump(record, f, indent=2)


def _run_task(this: _Run, name: str, step: str):
    """One task: inputs resolved, driver run, cache checked, container command run."""
    task = this.spec["root"]["dag"]["tasks"][name]
    control = sorted({"triggerPolicy", "parameterIterator", "artifactIterator"} & set(task))
    if control:
        raise LaunchError(f"the local launcher does not run conditions or loops ({control})")
    component = this.spec["components"][task["componentRef"]["name"]]
    executor = _executor(this.spec, component)
    parameters = launcher.input_parameters(task, this.runtime, this.outputs)
    if "importer" in executor:
        return TaskRun(name, False, 0.0), imported(executor["importer"], component, parameters)
    container = executor["container"]
    given = launcher.executor_input(component, parameters,
                                    launcher.input_artifacts(task, this.outputs),
                                    this.task_root(name), this.run_id, name)
    log_path = os.path.join(this.logs, name + ".log")
    started = time.monotonic()

    def launch(spec: Dict) -> List[str]:
        line = launcher.command_line(spec, given, sys.executable)
        try:
            launcher.run_command(line, this.image, log_path, HEARTBEAT_SECONDS, lambda seconds:
                                 this.say(f"{step}: running for {seconds:.0f} s ({log_path})"))
        except LaunchError as e:
            raise LaunchError(f"{e}; the last lines of {log_path}:\n{_tail(log_path)}") from e
        return line

    driver = container.get("lifecycle", {}).get("preCacheCheck")
    if driver:
        launch(driver)
        given = launcher.with_driver_output(given)
    key = cache_key(component, container, given)
    cached = this.cache.get(key) if task.get("cachingOptions", {}).get("enableCache") else None
    if cached:
        return TaskRun(name, True, 0.0), cached
    command = launch(container)
    outputs = launcher.outputs_of(given)
    this.cache.put(key, outputs)
    return TaskRun(name, False, time.monotonic() - started, command), outputs


def _tail(path: str, lines: int = 15) -> str:
    with open(path) as f:
        return "".join(f.readlines()[-lines:])
