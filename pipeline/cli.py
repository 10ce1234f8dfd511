"""`imdb-lstm`: the project's command line.

    imdb-lstm run --data PATH_OR_URL [--output-dir DIR] [--config FILE] [--epochs N] ...
    imdb-lstm report [--output-dir DIR]              lists the runs in ML Metadata
    imdb-lstm report RUN_ID|latest [--out FILE]      re-renders a run's evaluation report
    imdb-lstm report --compare RUN_A RUN_B [--out FILE]
"""
import argparse
import dataclasses
import logging
import sys
import typing
from typing import Any, Callable, Dict, List, Optional

from pipeline import logs  # first: quiets TensorFlow before anything imports it
from pipeline import config as pipeline_config
from trainer.config import TrainerConfig

_PIPELINE_FLAGS = ("pipeline_name", "data", "data_sha256", "output_dir", "download_cache_dir",
                   "schema_path", "holdout_percent", "min_accuracy", "min_auc", "max_accuracy_regression")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _value_parser(field_type) -> Callable[[str], Any]:
    """int, float or str; Optional[X] also takes 'none'."""
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
    run.add_argument("--config", help="YAML file of settings (see pipeline/config.py)")
    run.add_argument("--no-cache", action="store_true",
                     help="re-run every component instead of reusing cached outputs")
    _add_field_flags(run.add_argument_group("pipeline"),
                     dataclasses.fields(pipeline_config.PipelineConfig), _PIPELINE_FLAGS)
    _add_field_flags(run.add_argument_group("trainer (hyperparameters)"),
                     dataclasses.fields(TrainerConfig))

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
    return parser


def overrides_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    overrides: Dict[str, Any] = {name: getattr(args, name) for name in _PIPELINE_FLAGS
                                 if hasattr(args, name)}
    if args.command != "run":
        return overrides
    trainer = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainerConfig)
               if hasattr(args, f.name)}
    if trainer:
        overrides["trainer"] = trainer
    if args.no_cache:
        overrides["enable_cache"] = False
    return overrides


def _explained_error(error: BaseException) -> BaseException:
    """Our own error if Beam or TFX wrapped one (its message names the file and the problem)."""
    from components.anomalies_gate import DataAnomaliesError
    from components.imdb_reader import IngestError
    seen = set()
    cause: Optional[BaseException] = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (IngestError, DataAnomaliesError)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return error


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = pipeline_config.load(args.config, overrides_from_args(args))
    except (ValueError, TypeError, OSError) as e:
        print(f"imdb-lstm: invalid configuration: {e}", file=sys.stderr)
        return 2
    if args.command == "report":
        logs.quiet_libraries()
        from pipeline import report_command  # heavy imports only when needed
        return report_command.main(config, args.run_id, args.compare, args.out)
    return _run(config)


def _run(config: pipeline_config.PipelineConfig) -> int:
    log_path = logs.setup(config.log_dir)
    log = logging.getLogger("pipeline")
    log.info("full log: %s", log_path)
    from pipeline import local_runner  # heavy imports after logging is set up
    try:
        with logs.output_to(log_path):
            local_runner.run(config)
    except Exception as e:  # noqa: BLE001  (the console gets the cause, the log the traceback)
        logging.getLogger("imdb_lstm.traceback").info("run failed", exc_info=True)
        cause = _explained_error(e)
        log.error("run failed: %s: %s (full traceback in %s)", type(cause).__name__, cause,
                  log_path)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
