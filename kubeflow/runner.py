"""Compiles the one `create_pipeline` for Kubeflow Pipelines with TFX's KFP v2 runner.

    imdb-lstm kubeflow compile --image IMAGE --output-dir gs://BUCKET/imdb \
        --data gs://BUCKET/aclImdb_v1.tar.gz --package imdb-lstm.yaml

The package is the PipelineSpec as YAML, which open-source KFP and the kfp SDK take; `--vertex-job`
also writes TFX's PipelineJob JSON, which Vertex AI Pipelines takes. Pipeline root, pushed models
and reports live under `--output-dir` (config.pipeline_root, config.serving_dir).
"""
import dataclasses
import json
import logging
import os
from typing import Any, Dict, Optional

import yaml
from tfx import v1 as tfx

from components.data_source import remote_archive
from components.span_example_gen import SpanExampleGen
from kubeflow.settings import IMAGE_SCHEMA_PATH, KubeflowSettings
from pipeline.config import PipelineConfig
from pipeline.pipeline import (MODULE_PATHS, PRETRAINER_ID, Platform, ReviewSource, SpanSource,
                               create_pipeline)

_log = logging.getLogger(__name__)

# The components that train, and so get the Trainer's pod resources.
TRAINING_IDS = ("Trainer", PRETRAINER_ID)
# The executor kind open-source KFP's backend refuses ("resolver executors not implemented").
RESOLVER_EXECUTOR = "resolver"
# The runtime parameter that names the labelled data's directory, so each run on the cluster can
# read a newer copy of the data.
DATA_ROOT_PARAMETER = "data_root"
# With a landing location of spans: the newest span a run reads (0: the newest complete one).
SPAN_PARAMETER = "span"


def _remote(uri: str) -> ReviewSource:
    source = remote_archive(uri)
    return ReviewSource(source.input_base, source.pattern)


def _spans(config: PipelineConfig) -> SpanSource:
    span = tfx.dsl.experimental.RuntimeParameter(name=SPAN_PARAMETER, ptype=int,
                                                 default=config.span)
    return SpanSource(config.landing, span, _remote(config.eval_data) if config.eval_data else None)


def _labelled(config: PipelineConfig) -> ReviewSource:
    source = _remote(config.data)
    return ReviewSource(tfx.dsl.experimental.RuntimeParameter(
        name=DATA_ROOT_PARAMETER, ptype=str, default=source.input_base), source.pattern)


def kubeflow_platform(config: PipelineConfig, settings: KubeflowSettings) -> Platform:
    """The data: archive URIs (or a landing location of spans) the pods read, nothing checked
    here; the project's code is in the image (user functions by module path); ML Metadata is
    the cluster's."""
    unlabelled = None
    if config.unlabelled_data and config.trainer.pretrain_epochs:
        unlabelled = _remote(config.unlabelled_data)
    return Platform(
        labelled=None if config.landing else _labelled(config),
        spans=_spans(config) if config.landing else None,
        unlabelled=unlabelled,
        user_code=MODULE_PATHS,
        metadata_connection_config=None,
        with_baseline=settings.baseline == "latest-blessed",
        pretrain_on_labelled_reviews=False)


def build_pipeline(config: PipelineConfig, settings: KubeflowSettings) -> tfx.dsl.Pipeline:
    if config.schema_path == PipelineConfig().schema_path:  # this checkout's: use the image's
        config = dataclasses.replace(config, schema_path=IMAGE_SCHEMA_PATH)
    pipeline = create_pipeline(config, kubeflow_platform(config, settings))
    for component in pipeline.components:
        if component.id in TRAINING_IDS:
            component.with_platform_config(settings.trainer_resources())
    return pipeline


def compile_pipeline_job(config: PipelineConfig, settings: KubeflowSettings) -> Dict[str, Any]:
    """TFX's KFP v2 compilation: a PipelineJob (displayName, labels, pipelineSpec,
    runtimeConfig)."""
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=settings.image, display_name=config.pipeline_name,
            # 2.1 types parameters the way the kfp SDK and open-source KFP read them.
            use_pipeline_spec_2_1=True))
    defaults = ({SPAN_PARAMETER: config.span} if config.landing
                else {DATA_ROOT_PARAMETER: remote_archive(config.data).input_base})
    return runner.run(build_pipeline(config, settings), parameter_values=defaults,
                      write_out=False)


def package_spec(job: Dict[str, Any], pipeline_root: str) -> Dict[str, Any]:
    """The PipelineSpec of a PipelineJob, carrying what the job's runtimeConfig held: the
    runtime parameters' defaults and the pipeline root."""
    spec = json.loads(json.dumps(job["pipelineSpec"]))
    spec["defaultPipelineRoot"] = pipeline_root
    runtime = job.get("runtimeConfig", {})
    values = runtime.get("parameterValues") or {
        name: next(iter(value.values())) for name, value in runtime.get("parameters", {}).items()}
    parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, value in values.items():
        parameters[name].update(defaultValue=value, isOptional=True)
    span_reader = spec["root"]["dag"]["tasks"].get(SpanExampleGen.__name__)
    if span_reader:
        # Its cache key holds the `span` parameter, and 0 names whichever span is newest when
        # the run starts: a cached result could be an older span's.
        span_reader["cachingOptions"] = {"enableCache": False}
    return spec


def compile_package(config: PipelineConfig, settings: KubeflowSettings, package_path: str,
                    vertex_job_path: Optional[str] = None) -> Dict[str, Any]:
    """Writes the KFP package (PipelineSpec YAML) and, if asked, the Vertex PipelineJob JSON."""
    job = compile_pipeline_job(config, settings)
    spec = package_spec(job, config.pipeline_root)
    os.makedirs(os.path.dirname(os.path.abspath(package_path)), exist_ok=True)
    with open(package_path, "w") as f:
        yaml.safe_dump(spec, f, sort_keys=False)
    if vertex_job_path:
        with open(vertex_job_path, "w") as f:
            json.dump(job, f, indent=2)
    _log.info("compiled %d tasks into %s", len(spec["root"]["dag"]["tasks"]), package_path)
    return spec


def resolver_tasks(spec: Dict[str, Any]) -> list:
    """Tasks whose executor is a resolver: Vertex AI runs them, open-source KFP does not."""
    executors = spec.get("deploymentSpec", {}).get("executors", {})
    resolver_labels = {label for label, executor in executors.items()
                       if RESOLVER_EXECUTOR in executor}
    components = spec.get("components", {})
    return [name for name, task in spec["root"]["dag"]["tasks"].items()
            if components.get(task["componentRef"]["name"], {}).get("executorLabel")
            in resolver_labels]
