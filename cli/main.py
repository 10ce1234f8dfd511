"""`imdb-lstm`: parses the command line, resolves the config and hands it to the command (the
commands and their flags: cli/arguments.py)."""
import logging
import sys
from typing import List, Optional

from cli import logs  # first: quiets TensorFlow before anything imports it
from cli import paths, run_lock, stopping
from cli.arguments import build_parser, overrides_from_args
from pipeline import config as pipeline_config


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = pipeline_config.load(getattr(args, "config", None), overrides_from_args(args))
    except (ValueError, TypeError, OSError) as e:
        print(f"imdb-lstm: invalid configuration: {e}", file=sys.stderr)
        return 2
    if args.command == "report":
        logs.quiet_libraries()
        from cli import report_command  # heavy imports only when needed
        return report_command.main(config, args.run_id, args.compare, args.out)
    if args.command == "kubeflow":
        logs.quiet_libraries()
        from cli import kubeflow_commands
        return kubeflow_commands.main(args, config)
    if args.command in ("stream", "score"):
        from cli import stream_commands
        return stream_commands.main(args, config)
    if args.command == "watch":
        problem = _landing_problem(config, args.once)
        if problem:  # before the lock: a refused command leaves nothing behind
            print(f"imdb-lstm watch: {problem}", file=sys.stderr)
            return 2
    try:
        with run_lock.exclusive(config):
            return _watch(config, args.once) if args.command == "watch" else _run(config)
    except run_lock.Busy as e:
        print(f"imdb-lstm {args.command}: {e}", file=sys.stderr)
        return 1


def _landing_problem(config: pipeline_config.PipelineConfig, once: bool) -> Optional[str]:
    """Why `watch` cannot follow --landing; --once judges what is there now, a long watch may
    wait for the landing to appear."""
    if not config.landing:
        return "--landing is required (where the spans land)"
    try:
        paths.directory("--landing", config.landing, must_exist=once)
    except paths.PathProblem as e:
        return str(e)
    return None


def _watch(config: pipeline_config.PipelineConfig, once: bool) -> int:
    log_path = logs.setup(config.log_dir)
    log = logging.getLogger("pipeline")
    log.info("full log: %s", log_path)
    paths.followed("--landing", config.landing, log)
    from cli import watch
    with logs.output_to(log_path):
        watch.watch(config, once)
    return 0


def _run(config: pipeline_config.PipelineConfig) -> int:
    log_path = logs.setup(config.log_dir)
    log = logging.getLogger("pipeline")
    log.info("full log: %s", log_path)
    from pipeline import errors, local_runner  # heavy imports after logging is set up

    def farewell(stop: stopping.Stopped) -> int:
        log.error("run stopped by %s; re-run the same command to resume (TFX's cache keeps the "
                  "finished components, the Trainer's backup its last epoch)", stop.how)
        return stop.exit_code

    try:
        with logs.output_to(log_path), stopping.on_signals(farewell):
            local_runner.run(config)
    except BaseException as e:  # noqa: BLE001  (the console gets the cause, the log the traceback)
        logging.getLogger("imdb_lstm.traceback").info("run ended", exc_info=True)
        stop = stopping.stopped_by(e)
        if stop:
            return stopping.farewell_once(farewell, stop)
        if not isinstance(e, Exception):
            raise
        cause = errors.explained(e)
        log.error("run failed: %s: %s (full traceback in %s)", type(cause).__name__, cause,
                  log_path)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
