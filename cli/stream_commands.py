"""`imdb-lstm stream replay|feed|ingest` and `imdb-lstm score`: the feeds and Beam jobs around
continuous training."""
import argparse
import logging
import os
import sys

from cli import logs, paths, stopping
from pipeline.config import PipelineConfig

_log = logging.getLogger("streaming")


def _setup_logging() -> None:
    logs.quiet_libraries()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for name in ("apache_beam", "tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # RunInference warns through the root logger on every start that it cannot measure memory.
    logging.getLogger().addFilter(
        lambda record: "memory usage cannot be fetched" not in record.getMessage())


def new_pipeline(config: PipelineConfig, streaming: bool):
    """A Beam pipeline with the config's Beam arguments (`--beam-arg`s; the local FnApiRunner by
    default), with --streaming for a streaming job, which the local runner can then run for
    days (streaming/local_runner.py)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from streaming import local_runner

    if streaming:
        local_runner.fold_metrics_eagerly()
    arguments = list(config.beam_pipeline_args) + (["--streaming"] if streaming else [])
    return beam.Pipeline(options=PipelineOptions(arguments))


def _replay(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components import spans
    from components.imdb_reader import IngestError
    from streaming import replay
    try:
        written = replay.replay(args.data, args.landing, args.spans, config.download_cache_dir,
                                args.every, dict(args.drift or []))
    except (ValueError, IngestError) as e:  # SpanError is a ValueError
        print(f"imdb-lstm stream replay: {e}", file=sys.stderr)
        return 2
    print(f"{args.landing}: wrote span(s) {written or 'none (all complete already)'}; complete: "
          f"{spans.ready_spans(args.landing)}")
    return 0


def _feed(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.imdb_reader import IngestError
    from streaming import feed
    try:
        sent = feed.feed(args.data, args.to, args.rate, config.download_cache_dir, args.split,
                         args.limit, args.seconds_per_file)
    except (ValueError, IngestError) as e:
        print(f"imdb-lstm stream feed: {e}", file=sys.stderr)
        return 2
    print(f"{args.to}: sent {sent} {args.split} reviews")
    return 0


def _ingest(args: argparse.Namespace, config: PipelineConfig) -> int:
    from streaming import ingest
    dead_letters = args.dead_letters or os.path.join(config.output_dir, "dead_letters", "ingest")
    _log.info("ingest: %s -> spans under %s (windows of %g s, allowed lateness %g s); dead "
              "letters -> %s", args.source, config.landing, config.stream_window_seconds,
              config.stream_allowed_lateness_seconds, dead_letters)
    pipeline = new_pipeline(config, streaming=True)
    ingest.build(pipeline, args.source, config.landing, dead_letters,
                 config.stream_window_seconds, config.stream_allowed_lateness_seconds)
    pipeline.run().wait_until_finish()
    return 0


def _score(args: argparse.Namespace, config: PipelineConfig) -> int:
    from streaming import scoring, serving_model
    if args.split and not args.batch:
        print("imdb-lstm score: --split reads --input as an aclImdb source, a finite input: "
              "add --batch", file=sys.stderr)
        return 2
    model_dir = args.model_dir or config.serving_dir
    try:  # before the job starts: a serving directory without a usable model is an input error
        serving = serving_model.LatestVersion(model_dir, config.model_poll_seconds)
    except serving_model.ModelVersionError as e:
        print(f"imdb-lstm score: {e}", file=sys.stderr)
        return 1
    dead_letters = args.dead_letters or os.path.join(config.output_dir, "dead_letters", "score")
    streaming = not args.batch
    _log.info("score: %s -> %s with model version %s of %s (%s); dead letters -> %s",
              args.input, args.output, serving.current.version, model_dir,
              f"looks for a newer one every {config.model_poll_seconds:g} s" if streaming
              else "batch", dead_letters)
    pipeline = new_pipeline(config, streaming)
    scoring.build(pipeline, model_dir, args.input, args.output, dead_letters, streaming,
                  model_poll_seconds=config.model_poll_seconds, aclimdb_split=args.split,
                  cache_dir=config.download_cache_dir)
    result = pipeline.run()
    result.wait_until_finish()
    if not streaming:
        _log.info(scoring.summary(result))
    return 0


_COMMANDS = {"replay": _replay, "feed": _feed, "ingest": _ingest, "score": _score}


def _check_paths(command: str, args: argparse.Namespace, config: PipelineConfig) -> None:
    """Raises PathProblem before any data is read."""
    if command == "replay":
        paths.existing("--data", args.data)
        paths.writable_directory("--landing", args.landing)
    elif command == "feed":
        paths.existing("--data", args.data)
        paths.writable_directory("--to", args.to)
    elif command == "ingest":
        paths.followed("--source", args.source, _log)
        paths.writable_directory("--landing", config.landing)
    else:
        _check_score_paths(args)


def _check_score_paths(args: argparse.Namespace) -> None:
    if args.split:  # an aclImdb source, read once
        paths.existing("--input", args.input)
    elif args.batch:
        paths.directory("--input", args.input, must_exist=True)
    else:
        paths.followed("--input", args.input, _log)
    paths.writable_directory("--output", args.output)


def main(args: argparse.Namespace, config: PipelineConfig) -> int:
    _setup_logging()
    command = args.command if args.command == "score" else args.stream_command
    if command == "ingest" and not config.landing:
        print("imdb-lstm stream ingest: --landing is required (where the spans land)",
              file=sys.stderr)
        return 2
    try:
        _check_paths(command, args, config)
    except paths.PathProblem as e:
        name = command if command == "score" else f"stream {command}"
        print(f"imdb-lstm {name}: {e}", file=sys.stderr)
        return 2

    def farewell(stop: stopping.Stopped) -> int:
        _log.warning("%s stopped by %s; run it again to go on (it reads its input again from "
                     "the start)", command, stop.how)
        return 0

    return stopping.until_stopped(lambda: _COMMANDS[command](args, config), farewell)
