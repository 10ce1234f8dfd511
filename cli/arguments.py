"""`imdb-lstm`: the project's command line.

    imdb-lstm run --data PATH_OR_URL [--output-dir DIR] [--config FILE] [--epochs N] ...
    imdb-lstm report [--output-dir DIR]              lists the runs in ML Metadata
    imdb-lstm report RUN_ID|latest [--out FILE]      re-renders a run's evaluation report
    imdb-lstm report --compare RUN_A RUN_B [--out FILE]
    imdb-lstm kubeflow compile --image IMAGE --data gs://.../aclImdb_v1.tar.gz --output-dir gs://...
    imdb-lstm kubeflow submit --host URL [--experiment NAME] [--param data_root=gs://...] ...
    imdb-lstm kubeflow run-local PACKAGE --work-dir DIR [--param NAME=VALUE]  run it here
    imdb-lstm watch --landing DIR [--eval-data PATH] [--once]   continuous training
    imdb-lstm stream replay|feed|ingest ...                      feeds of reviews and spans
    imdb-lstm score --input DIR|pubsub:... --output DIR [--batch]
"""
import argparse
import dataclasses
import os
import typing
from typing import Any, Callable, Dict

from kubeflow.settings import KubeflowSettings
from pipeline import config as pipeline_config
from trainer.config import TrainerConfig

SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
_PIPELINE_FLAGS = ("pipeline_name", "data", "data_sha256", "unlabelled_data", "pretrained_model",
                   "landing", "span", "window", "eval_data", "poll_seconds", "warm_start",
                   "max_drift_label_balance", "max_drift_rating", "max_drift_review_length",
                   "max_drift_vocabulary",
                   "output_dir", "download_cache_dir", "schema_path", "holdout_percent",
                   "min_accuracy", "min_auc", "max_accuracy_regression",
                   "max_span_accuracy_regression", "tune_trials", "tune_steps", "tune_epochs")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _parse_bool(text: str) -> bool:
    if text.lower() not in _BOOLEANS:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return _BOOLEANS[text.lower()]


def _value_parser(field_type) -> Callable[[str], Any]:
    """int, float, str or bool (true/false); Optional[X] also takes 'none'."""
    if field_type is bool:
        return _parse_bool
    options = [t for t in typing.get_args(field_type) if t is not type(None)]
    if not options:
        return field_type
    parse = options[0]
    return lambda text: None if text.lower() in ("none", "null") else parse(text)


def _add_field_flags(parser: argparse.ArgumentParser, fields, names=None) -> None:
    for field in fields:
        if names is not None and field.name not in names:
            continue
        # Absent flags stay out of the namespace, so an explicit 'none' is an override too.
        parser.add_argument(_flag(field.name), dest=field.name, default=argparse.SUPPRESS,
                            type=_value_parser(field.type), metavar=field.name.upper())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imdb-lstm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole pipeline locally (LocalDagRunner)")
    _add_pipeline_flags(run)
    run.add_argument("--no-cache", action="store_true",
                     help="re-run every component instead of reusing cached outputs")

    watch = commands.add_parser(
        "watch", help="continuous training: run the pipeline once per newly complete span of "
                      "--landing, in order")
    _add_pipeline_flags(watch)
    watch.add_argument("--once", action="store_true",
                       help="process the spans ready now, then exit (for cron and tests)")
    _add_stream_parser(commands)
    _add_score_parser(commands)
    _add_report_parser(commands)
    _add_kubeflow_parser(commands)
    return parser


def _add_report_parser(commands) -> None:
    report = commands.add_parser(
        "report", help="list runs, re-render a run's evaluation report, or compare two runs")
    report.add_argument("run_id", nargs="?", metavar="RUN_ID",
                        help="the run to render ('latest' for the newest); none: list runs")
    report.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
                        help="render RUN_A and RUN_B side by side")
    report.add_argument("--out", help="HTML file to write (default: under OUTPUT_DIR/reports/)")
    report.add_argument("--config", help="YAML file of settings, as for `run`")
    _add_field_flags(report, dataclasses.fields(pipeline_config.PipelineConfig),
                     ("pipeline_name", "output_dir"))


def _add_kubeflow_parser(commands) -> None:
    kubeflow = commands.add_parser(
        "kubeflow", help="compile the pipeline for Kubeflow Pipelines, or submit a package")
    kubeflow_commands = kubeflow.add_subparsers(dest="kubeflow_command", required=True)
    compile_ = kubeflow_commands.add_parser(
        "compile", help="compile with TFX's KFP v2 runner into a pipeline package (YAML)")
    _add_pipeline_flags(compile_)
    _add_field_flags(compile_.add_argument_group("kubeflow"),
                     dataclasses.fields(KubeflowSettings))
    compile_.add_argument("--beam-arg", dest="beam_args", action="append", metavar="ARG",
                          help="a Beam pipeline argument for the data components, e.g. "
                               "--beam-arg=--runner=DataflowRunner (repeat; replaces the "
                               "local default)")
    compile_.add_argument("--package", default="imdb-lstm.yaml",
                          help="the package to write (default: %(default)s)")
    compile_.add_argument("--vertex-job", help="also write the PipelineJob JSON for Vertex AI")
    submit = kubeflow_commands.add_parser(
        "submit", help="submit a compiled package to a Kubeflow Pipelines API server")
    _add_api_flags(submit)
    schedule = kubeflow_commands.add_parser(
        "schedule", help="create a recurring run of a compiled package, e.g. one run per new "
                         "span of a continuous-training package")
    _add_api_flags(schedule)
    schedule.add_argument("--cron", required=True, metavar="EXPRESSION",
                          help="when to run, six cron fields with seconds first, e.g. "
                               "'0 0 * * * *' for hourly")
    run_local = kubeflow_commands.add_parser(
        "run-local", help="run a compiled package on this machine, each task's container "
                          "command as KFP's launcher runs it (docs/KUBEFLOW.md)")
    run_local.add_argument("package", help="the package `kubeflow compile` wrote")
    run_local.add_argument("--work-dir", required=True,
                           help="the staged image, the task logs and the cache of task outputs")
    run_local.add_argument("--param", action="append", metavar="NAME=VALUE",
                           help="a runtime parameter, e.g. data_root=/data/imdb (repeat)")


def _add_api_flags(parser: argparse.ArgumentParser) -> None:
    """A KFP API server, the package and its run's settings, and how to authenticate."""
    parser.add_argument("--host", required=True, help="the KFP API endpoint, e.g. "
                        "http://localhost:8080 (port-forwarded ml-pipeline-ui)")
    parser.add_argument("--package", default="imdb-lstm.yaml")
    parser.add_argument("--experiment", help="experiment name (created if missing)")
    parser.add_argument("--run-name")
    parser.add_argument("--namespace", help="the user namespace on multi-user clusters")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="a runtime parameter, e.g. data_root=gs://bucket/imdb or span=0 "
                             "(repeat)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--token", default=os.environ.get("KFP_TOKEN"),
                      help="bearer token (default: $KFP_TOKEN)")
    auth.add_argument("--sa-token", nargs="?", const=SA_TOKEN_PATH, metavar="PATH",
                      help="use the service-account token KFP mounts into pods "
                           f"(default path {SA_TOKEN_PATH})")


def _drift(text: str):
    span, _, kind = text.partition(":")
    if not span.isdigit() or not kind:
        raise argparse.ArgumentTypeError(f"expected SPAN:KIND, e.g. 6:negative, got {text!r}")
    return int(span), kind


def _add_stream_parser(commands) -> None:
    stream = commands.add_parser("stream", help="feeds of reviews and spans (streaming/)")
    stream_commands = stream.add_subparsers(dest="stream_command", required=True)
    replay = stream_commands.add_parser(
        "replay", help="cut the official training reviews of --data into N spans and write "
                       "them under --landing, one every --every seconds")
    replay.add_argument("--data", required=True, help="an aclImdb source, as for `run`")
    replay.add_argument("--landing", required=True, help="where the spans land")
    replay.add_argument("--spans", type=int, required=True, help="how many spans to cut into")
    replay.add_argument("--every", type=float, default=0.0, metavar="SECONDS",
                        help="seconds between spans (default: none)")
    replay.add_argument("--drift", type=_drift, action="append", metavar="SPAN:KIND",
                        help="make SPAN drift: 'negative' or 'short' reviews only (repeat)")

    feed = stream_commands.add_parser(
        "feed", help="drop the reviews of --data into --to as JSON Lines files, --rate a "
                     "second: a live feed for `stream ingest` and `score`")
    feed.add_argument("--data", required=True, help="an aclImdb source, as for `run`")
    feed.add_argument("--to", required=True, help="the directory the files land in")
    feed.add_argument("--rate", type=float, default=100.0, help="reviews a second (%(default)s)")
    feed.add_argument("--split", default="train", choices=("train", "test", "unsup"))
    feed.add_argument("--limit", type=int, help="stop after this many reviews")
    feed.add_argument("--seconds-per-file", type=float, default=1.0)

    ingest = stream_commands.add_parser(
        "ingest", help="Beam streaming job: rated reviews arriving in --source -> spans under "
                       "--landing, one per event-time window")
    ingest.add_argument("--source", required=True,
                        help="a directory of JSON Lines files, or "
                             "pubsub:projects/P/subscriptions/S")
    _add_beam_job_flags(ingest, ("landing", "stream_window_seconds",
                                 "stream_allowed_lateness_seconds"))


def _add_score_parser(commands) -> None:
    score = commands.add_parser(
        "score", help="Beam job: score every review arriving in --input with the model serving "
                      "now (a newer pushed version takes over); --batch: score what is there")
    score.add_argument("--input", required=True,
                       help="a directory of JSON Lines files, pubsub:projects/P/subscriptions/S, "
                            "or with --batch also an aclImdb source (see --split)")
    score.add_argument("--output", required=True, help="the directory score files go to")
    score.add_argument("--model-dir", help="the serving directory (default: the pipeline's, "
                                           "OUTPUT_DIR/serving/PIPELINE_NAME)")
    score.add_argument("--batch", action="store_true",
                       help="score the input there now and exit, instead of following it")
    score.add_argument("--split", choices=("train", "test", "unsup"),
                       help="with --batch: read --input as an aclImdb source, this split")
    _add_beam_job_flags(score, ("model_poll_seconds",))


def _add_beam_job_flags(parser: argparse.ArgumentParser, fields) -> None:
    parser.add_argument("--dead-letters",
                        help="where rejected records go (default: OUTPUT_DIR/dead_letters/JOB)")
    parser.add_argument("--config", help="YAML file of settings (see pipeline/config.py)")
    _add_field_flags(parser, dataclasses.fields(pipeline_config.PipelineConfig),
                     ("output_dir", "pipeline_name", "download_cache_dir") + tuple(fields))
    parser.add_argument("--beam-arg", dest="beam_args", action="append", metavar="ARG",
                        help="a Beam pipeline argument, e.g. --beam-arg=--runner=DataflowRunner "
                             "(repeat; replaces the local default)")


def _add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file of settings (see pipeline/config.py)")
    _add_field_flags(parser.add_argument_group("pipeline"),
                     dataclasses.fields(pipeline_config.PipelineConfig), _PIPELINE_FLAGS)
    _add_field_flags(parser.add_argument_group("trainer (hyperparameters)"),
                     dataclasses.fields(TrainerConfig))


def overrides_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    overrides: Dict[str, Any] = {f.name: getattr(args, f.name)
                                 for f in dataclasses.fields(pipeline_config.PipelineConfig)
                                 if f.name != "trainer" and hasattr(args, f.name)}
    trainer = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainerConfig)
               if hasattr(args, f.name)}
    if trainer:
        overrides["trainer"] = trainer
    if getattr(args, "no_cache", False):
        overrides["enable_cache"] = False
    if getattr(args, "beam_args", None):
        overrides["beam_pipeline_args"] = args.beam_args
    return overrides
