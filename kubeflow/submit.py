"""Submits a compiled package to a Kubeflow Pipelines API server with the kfp SDK.

Authentication, as users of KFP need it: a bearer token (`--token`, or KFP_TOKEN), the
in-cluster service-account token that KFP mounts into pods (`--sa-token`, default path
/var/run/secrets/kubeflow/pipelines/token), or none (port-forwarded or open clusters).
"""
import dataclasses
import logging
from typing import Any, Dict, Optional

import kfp
import kfp_server_api
import yaml
from kfp.client import ServiceAccountTokenVolumeCredentials

from kubeflow.runner import resolver_tasks

_log = logging.getLogger(__name__)


class SubmitError(RuntimeError):
    """The package, the host or the API server said no; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Submission:
    run_id: str
    run_url: str
    experiment: Optional[str]
    kind: str = "run"  # or "recurring run"


def load_package(package_path: str) -> Dict:
    try:
        with open(package_path) as f:
            spec = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        # A YAML error spans lines (the problem, then where): one line, as every refusal is.
        reason = " ".join(str(e).split())
        raise SubmitError(f"cannot read package {package_path}: {reason}") from e
    if not isinstance(spec, dict) or "root" not in spec:
        raise SubmitError(f"{package_path} is not a KFP pipeline package "
                          "(`imdb-lstm kubeflow compile` writes one)")
    resolvers = resolver_tasks(spec)
    if resolvers:
        raise SubmitError(
            f"{package_path} has resolver tasks ({', '.join(sorted(resolvers))}), which "
            "open-source KFP does not execute ('resolver executors not implemented'): compile "
            "with --baseline none for this cluster, or run the package on Vertex AI Pipelines")
    return spec


# A runtime parameter's value, as the API takes it for the type the package declares.
_PARAMETER_TYPES = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": float, "STRING": str}


def parse_parameters(pairs, spec: Dict) -> Dict[str, Any]:
    known = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    parameters = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SubmitError(f"--param {pair!r}: expected NAME=VALUE")
        if name not in known:
            raise SubmitError(f"--param {name}: the pipeline has no such runtime parameter; "
                              f"it has {sorted(known)}")
        kind = known[name].get("parameterType", "STRING")
        try:
            parameters[name] = _PARAMETER_TYPES.get(kind, str)(value)
        except ValueError as e:
            raise SubmitError(f"--param {name}={value}: the package declares {kind}") from e
    return parameters


def connect(host: str, token: Optional[str] = None, sa_token_path: Optional[str] = None,
            namespace: Optional[str] = None) -> kfp.Client:
    credentials = (ServiceAccountTokenVolumeCredentials(path=sa_token_path)
                   if sa_token_path else None)
    try:
        # kfp.Client checks the server's health as it is created.
        return kfp.Client(host=host, existing_token=token, credentials=credentials,
                          namespace=namespace or "kubeflow")
    except Exception as e:  # noqa: BLE001  (urllib3, kfp_server_api and OS errors alike)
        raise SubmitError(f"cannot reach Kubeflow Pipelines at {host}: "
                          f"{type(e).__name__}: {e}") from e


def _rejected(host: str, what: str, error: kfp_server_api.exceptions.ApiException) -> SubmitError:
    return SubmitError(f"Kubeflow Pipelines at {host} rejected the {what}: HTTP {error.status} "
                       f"{error.reason}: {(error.body or '').strip()}")


def submit(package_path: str, host: str, experiment: Optional[str] = None,
           run_name: Optional[str] = None, namespace: Optional[str] = None, params=None,
           token: Optional[str] = None, sa_token_path: Optional[str] = None) -> Submission:
    spec = load_package(package_path)
    parameters = parse_parameters(params, spec)
    client = connect(host, token, sa_token_path, namespace)
    try:
        result = client.create_run_from_pipeline_package(
            package_path, arguments=parameters, run_name=run_name,
            experiment_name=experiment, namespace=namespace,
            # A package written as YAML loses the PipelineJob's root; it travels in the spec.
            pipeline_root=spec.get("defaultPipelineRoot"))
    except kfp_server_api.exceptions.ApiException as e:
        raise _rejected(host, "run", e) from e
    run_url = f"{host.rstrip('/')}/#/runs/details/{result.run_id}"
    _log.info("submitted run %s: %s", result.run_id, run_url)
    return Submission(run_id=result.run_id, run_url=run_url, experiment=experiment)


def _cron(expression: str) -> str:
    """KFP's cron: six fields, seconds first (robfig/cron)."""
    if len(expression.split()) != 6:
        raise SubmitError(f"--cron {expression!r}: KFP takes six fields, seconds first, e.g. "
                          "'0 0 * * * *' for hourly (a five-field crontab line lacks the seconds)")
    return expression


def schedule(package_path: str, host: str, cron: str, experiment: Optional[str] = None,
             run_name: Optional[str] = None, namespace: Optional[str] = None, params=None,
             token: Optional[str] = None, sa_token_path: Optional[str] = None) -> Submission:
    """A recurring run of the package: one run per `cron` tick, never two at once (a run on
    span 0 reads the newest complete span when it starts)."""
    spec = load_package(package_path)
    parameters = parse_parameters(params, spec)
    cron = _cron(cron)  # before the server hears of anything
    client = connect(host, token, sa_token_path, namespace)
    name = run_name or f"{spec['pipelineInfo']['name']} on schedule"
    try:
        experiment_id = client.create_experiment(experiment or "Default",
                                                 namespace=namespace).experiment_id
        result = client.create_recurring_run(
            experiment_id, name, cron_expression=cron, max_concurrency=1,
            pipeline_package_path=package_path, params=parameters,
            pipeline_root=spec.get("defaultPipelineRoot"))
    except kfp_server_api.exceptions.ApiException as e:
        raise _rejected(host, "recurring run", e) from e
    url = f"{host.rstrip('/')}/#/recurringrun/details/{result.recurring_run_id}"
    _log.info("created recurring run %s (%s): %s", result.recurring_run_id, cron, url)
    return Submission(run_id=result.recurring_run_id, run_url=url, experiment=experiment,
                      kind="recurring run")
