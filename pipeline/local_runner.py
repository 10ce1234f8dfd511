"""Runs the pipeline with TFX's LocalDagRunner (Beam's local runner, SQLite ML Metadata): the
platform's inputs checked and resolved, the DAG run, its outcome read back from ML Metadata.
`imdb-lstm run` and `watch` call `run`, and so does the file the `tfx` CLI runs
(cli/tfx_cli_pipeline.py).
"""
import logging
import os
import time

import yaml
from tfx import v1 as tfx
from tfx.utils import path_utils

from components.data_source import resolve
from components.span_example_gen import newest_span
from pipeline import config as pipeline_config
from pipeline import outcome
from pipeline.pipeline import (MODULE_FILES, PRETRAINER_ID, Platform, ReviewSource, SpanSource,
                               create_pipeline)
from trainer import artifacts


def check_pretrained_model(model_dir: str) -> None:
    """Fails before anything runs unless `model_dir` holds a Pretrainer's output."""
    for name in (artifacts.PRETRAINED_ENCODER_FILE, artifacts.PRETRAINED_VOCABULARY_FILE):
        path = os.path.join(path_utils.serving_model_dir(model_dir), name)
        if not os.path.isfile(path):
            raise ValueError(f"pretrained_model {model_dir}: no {path}; expected the model "
                             f"directory of a Pretrainer run, e.g. <output_dir>/pipelines/<name>/"
                             f"{PRETRAINER_ID}/model/<id>")


def _reviews(data: str, config: pipeline_config.PipelineConfig, **kwargs) -> ReviewSource:
    source = resolve(data, config.download_cache_dir, **kwargs)
    return ReviewSource(source.input_base, source.pattern)


def _spans(config: pipeline_config.PipelineConfig) -> SpanSource:
    """The landing location and the newest span to read: `span`, or the newest complete one,
    resolved now so that TFX's cache, keyed by the span number, never serves an older span."""
    landing = config.landing if "://" in config.landing else os.path.abspath(config.landing)
    if "://" not in landing and not os.path.isdir(landing):
        raise ValueError(f"landing {landing}: no such directory")
    test = _reviews(config.eval_data, config) if config.eval_data else None
    return SpanSource(landing, newest_span(landing, config.span), test)


def local_platform(config: pipeline_config.PipelineConfig) -> Platform:
    """Checks (and downloads) the data and any language model to import: bad input stops here,
    before anything runs."""
    if config.landing:
        labelled, spans = None, _spans(config)
    else:
        labelled, spans = _reviews(config.data, config, sha256=config.data_sha256), None
    unlabelled = None
    if config.unlabelled_data and config.trainer.pretrain_epochs:
        unlabelled = _reviews(config.unlabelled_data, config, unlabelled=True)
    if config.pretrained_model:
        check_pretrained_model(config.pretrained_model)
    return Platform(
        labelled=labelled,
        unlabelled=unlabelled,
        spans=spans,
        user_code=MODULE_FILES,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path))


def run(config: pipeline_config.PipelineConfig):
    """Runs the pipeline; returns what the run did (None if the tfx CLI only compiled it)."""
    log = logging.getLogger("pipeline")
    started = time.time()
    source = (f"span {config.span or 'newest'} of {config.landing} (window {config.window})"
              if config.landing else f"data {config.data}")
    log.info("pipeline %s, %s, outputs under %s", config.pipeline_name, source, config.output_dir)
    log.info("resolved config:\n%s", yaml.safe_dump(config.to_dict(), sort_keys=False).rstrip())
    tfx.orchestration.LocalDagRunner().run(create_pipeline(config, local_platform(config)))
    result = outcome.latest_run(config.metadata_path, config.pipeline_name)
    if result is None or result.started_before(started):
        return None  # `tfx pipeline create` runs this file with a patched runner: nothing ran
    for line in result.summary_lines():
        log.info(line)
    return result
