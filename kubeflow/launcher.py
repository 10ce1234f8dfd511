"""One task of a compiled package, run the way KFP v2's driver and launcher run it in a pod: the
inputs resolved from constants, runtime parameters and upstream outputs; output artifact URIs
under the pipeline root; the executor input JSON and the placeholders of the container's command
line filled from it; the command run; the executor output file read back (kubeflow/run_local.py
runs a whole package with it)."""
import dataclasses
import json
import os
import re
import signal
import subprocess
import time
from typing import Any, Callable, Dict, List

# What a finished task hands its consumers: output key -> the artifacts (RuntimeArtifact JSON).
Artifacts = Dict[str, List[Dict[str, Any]]]


_STOPS = {signal.SIGINT, signal.SIGTERM}


class LaunchError(RuntimeError):
    """The package asks for something this launcher does not do, or a task failed."""


@dataclasses.dataclass
class TaskOutputs:
    artifacts: Artifacts
    parameters: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Image:
    """Where the image's working directory is staged here and the environment it runs with."""
    workdir: str
    env: Dict[str, str]


def input_parameters(task: Dict, runtime: Dict[str, Any],
                     upstream: Dict[str, TaskOutputs]) -> Dict[str, Any]:
    """Each input parameter's value: a constant, a runtime parameter or an upstream output."""
    values = {}
    for key, spec in task.get("inputs", {}).get("parameters", {}).items():
        if "runtimeValue" in spec:
            values[key] = spec["runtimeValue"]["constant"]
        elif "componentInputParameter" in spec:
            values[key] = runtime[spec["componentInputParameter"]]
        elif "taskOutputParameter" in spec:
            source = spec["taskOutputParameter"]
            values[key] = upstream[source["producerTask"]].parameters[
                source["outputParameterKey"]]
        else:
            raise LaunchError(f"input parameter {key!r}: the local launcher does not resolve "
                              f"{sorted(spec)}")
    return values


def input_artifacts(task: Dict, upstream: Dict[str, TaskOutputs]) -> Artifacts:
    artifacts = {}
    for key, spec in task.get("inputs", {}).get("artifacts", {}).items():
        if "taskOutputArtifact" not in spec:
            raise LaunchError(f"input artifact {key!r}: the local launcher does not resolve "
                              f"{sorted(spec)}")
        source = spec["taskOutputArtifact"]
        artifacts[key] = upstream[source["producerTask"]].artifacts[source["outputArtifactKey"]]
    return artifacts


def executor_input(component: Dict, parameters: Dict[str, Any], artifacts: Artifacts,
                   task_root: str, run_id: str, task_name: str) -> Dict[str, Any]:
    """The ExecutorInput the launcher hands the container as `{{$}}`: new output artifacts at
    <task_root>/<key> (named like MLMD resources), their output file beside them."""
    outputs = component.get("outputDefinitions", {})
    return {
        "inputs": {"parameterValues": parameters, "artifacts": {
            key: {"artifacts": value} for key, value in artifacts.items()}},
        "outputs": {
            "artifacts": {key: {"artifacts": [{
                "name": f"{run_id}/{task_name}/{key}",
                "type": spec["artifactType"],
                "uri": os.path.join(task_root, key),
                "metadata": {}}]}
                for key, spec in outputs.get("artifacts", {}).items()},
            "parameters": {key: {"outputFile": os.path.join(task_root, "parameters", key)}
                           for key in outputs.get("parameters", {})},
            "outputFile": os.path.join(task_root, "executor_output.json"),
        },
    }


_PLACEHOLDER = re.compile(r"\{\{\$[^}]*\}\}")
_SELECTORS = {
    r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}":
        lambda given, key: _text(given["inputs"]["parameterValues"][key]),
    r"\{\{\$\.inputs\.artifacts\['([^']+)'\]\.uri\}\}":
        lambda given, key: given["inputs"]["artifacts"][key]["artifacts"][0]["uri"],
    r"\{\{\$\.outputs\.artifacts\['([^']+)'\]\.uri\}\}":
        lambda given, key: given["outputs"]["artifacts"][key]["artifacts"][0]["uri"],
    r"\{\{\$\.outputs\.parameters\['([^']+)'\]\.output_file\}\}":
        lambda given, key: given["outputs"]["parameters"][key]["outputFile"],
}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def fill(argument: str, given: Dict[str, Any]) -> str:
    """`argument` with its placeholders filled; one this launcher does not know fails."""
    def replace(match: re.Match) -> str:
        placeholder = match.group(0)
        if placeholder == "{{$}}":
            return json.dumps(given)
        for pattern, select in _SELECTORS.items():
            found = re.fullmatch(pattern, placeholder)
            if found:
                return select(given, found.group(1))
        raise LaunchError(f"placeholder {placeholder} is not one the local launcher fills")
    return _PLACEHOLDER.sub(replace, argument)


def command_line(container: Dict, given: Dict[str, Any], python: str) -> List[str]:
    """The container's command and args, filled; its `python` is this virtualenv's."""
    line = [fill(part, given) for part in container.get("command", []) + container.get("args", [])]
    if not line:
        raise LaunchError("the container has neither command nor args")
    return [python if line[0] == "python" else line[0]] + line[1:]


def run_command(line: List[str], image: Image, log_path: str, every: float,
                heartbeat: Callable[[float], None]) -> None:
    """Runs one container command in the staged image, its output to `log_path`, calling
    `heartbeat(seconds so far)` every `every` seconds; stopped with the caller if that is."""
    started = time.monotonic()
    process = None
    with open(log_path, "a") as log:
        try:
            # A stop (Ctrl-C, SIGTERM) raised while Popen starts the child would leave the child
            # running with nobody to stop it: the signals wait until `process` holds it.
            signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
            try:
                # Its own process group, so that a stop takes the processes it starts too.
                process = subprocess.Popen(line, cwd=image.workdir, env=image.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
            while True:
                try:
                    returncode = process.wait(timeout=every)
                    break
                except subprocess.TimeoutExpired:
                    heartbeat(time.monotonic() - started)
        finally:
            if process is not None and process.poll() is None:  # the caller was stopped
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    if returncode:
        raise LaunchError(f"exited with status {returncode}")


def outputs_of(given: Dict[str, Any]) -> TaskOutputs:
    """The task's outputs: its artifacts as the executor output file updated them (metadata,
    URI), its parameters from the same file."""
    path = given["outputs"]["outputFile"]
    written = {}
    if os.path.exists(path):
        with open(path) as f:
            written = json.load(f)
    artifacts = {}
    for key, value in given["outputs"]["artifacts"].items():
        [declared] = value["artifacts"]
        reported = written.get("artifacts", {}).get(key, {}).get("artifacts", [{}])
        if len(reported) != 1:
            raise LaunchError(f"output {key!r}: the executor reported {len(reported)} artifacts")
        artifacts[key] = [{**declared, **{field: reported[0][field] for field in
                                          ("uri", "metadata") if field in reported[0]}}]
    parameters = dict(written.get("parameterValues", {}))
    missing = set(given["outputs"]["parameters"]) - set(parameters)
    if missing:
        raise LaunchError(f"the executor wrote no value for output parameters {sorted(missing)}")
    return TaskOutputs(artifacts, parameters)


def with_driver_output(given: Dict[str, Any]) -> Dict[str, Any]:
    """`given` updated by what a lifecycle driver wrote to the output file (TFX's ExampleGen
    driver: the span, version and fingerprint of the input files, and the artifacts' metadata),
    as Vertex AI updates the task before its cache check and executor."""
    with open(given["outputs"]["outputFile"]) as f:
        written = json.load(f)
    updated = json.loads(json.dumps(given))
    updated["inputs"]["parameterValues"].update(written.get("parameterValues", {}))
    for key, value in written.get("artifacts", {}).items():
        [artifact] = updated["outputs"]["artifacts"][key]["artifacts"]
        artifact["metadata"].update(value["artifacts"][0].get("metadata", {}))
    return updated
