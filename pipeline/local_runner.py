"""Runs the pipeline with TFX's LocalDagRunner (Beam's local runner, SQLite ML Metadata).

    tfx pipeline create --engine=local --pipeline_path pipeline/local_runner.py
    tfx run create --engine=local --pipeline_name imdb-lstm

The `tfx` CLI passes no arguments: configure with IMDB_LSTM_CONFIG (a YAML file) and
IMDB_LSTM_* variables, e.g. IMDB_LSTM_DATA=/path/to/aclImdb_v1.tar.gz (see pipeline/config.py).
"""
import logging
import os
import sys
import time

# Run as a script, this file's folder is first on sys.path, where pipeline/pipeline.py would
# shadow the `pipeline` package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipeline import logs  # noqa: E402  (first: quiets TensorFlow before it is imported)
import yaml  # noqa: E402
from tfx import v1 as tfx  # noqa: E402
from tfx.utils import path_utils  # noqa: E402

from components.data_source import resolve  # noqa: E402
from components.span_example_gen import newest_span  # noqa: E402
from pipeline import config as pipeline_config  # noqa: E402
from pipeline import outcome, run_lock  # noqa: E402
from pipeline.pipeline import (MODULE_FILES, PRETRAINER_ID, Platform,  # noqa: E402
                               ReviewSource, SpanSource, create_pipeline)
from trainer import artifacts  # noqa: E402


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


if __name__ == "__main__":
    resolved = pipeline_config.load()
    with run_lock.exclusive(resolved):
        log_path = logs.setup(resolved.log_dir)
        print(f"full log: {log_path}", file=sys.stderr)
        with logs.output_to(log_path):
            run(resolved)
