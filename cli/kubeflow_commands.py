"""`imdb-lstm kubeflow compile`, `submit`, `schedule` and `run-local`."""
import argparse
import dataclasses
import sys

from cli import paths, stopping
from kubeflow.settings import KubeflowSettings
from pipeline.config import PipelineConfig


def _compile(args: argparse.Namespace, config: PipelineConfig) -> int:
    from components.imdb_reader import IngestError
    from kubeflow import runner
    try:
        settings = KubeflowSettings(**{f.name: getattr(args, f.name)
                                       for f in dataclasses.fields(KubeflowSettings)
                                       if hasattr(args, f.name)})
        spec = runner.compile_package(config, settings, args.package, args.vertex_job)
    except (ValueError, TypeError, IngestError) as e:
        print(f"imdb-lstm kubeflow compile: {e}", file=sys.stderr)
        return 2
    tasks = spec["root"]["dag"]["tasks"]
    print(f"{args.package}: {len(tasks)} tasks, image {settings.image}, pipeline root "
          f"{spec['defaultPipelineRoot']}, baseline {settings.baseline}")
    if args.vertex_job:
        print(f"{args.vertex_job}: the PipelineJob for Vertex AI Pipelines")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from kubeflow import submit
    common = dict(experiment=args.experiment, run_name=args.run_name, namespace=args.namespace,
                  params=args.param, token=args.token, sa_token_path=args.sa_token)
    try:
        if args.kubeflow_command == "schedule":
            submission = submit.schedule(args.package, args.host, args.cron, **common)
        else:
            submission = submit.submit(args.package, args.host, **common)
    except submit.SubmitError as e:
        print(f"imdb-lstm kubeflow {args.kubeflow_command}: {e}", file=sys.stderr)
        return 1
    print(f"{submission.kind} {submission.run_id}: {submission.run_url}")
    return 0


def _run_local(args: argparse.Namespace) -> int:
    from kubeflow import run_local, submit
    from kubeflow.launcher import LaunchError

    def farewell(stop: stopping.Stopped) -> int:
        print(f"imdb-lstm kubeflow run-local: stopped by {stop.how}; the tasks that finished are "
              f"cached in {args.work_dir}: the same command goes on from there",
              file=sys.stderr, flush=True)
        return stop.exit_code

    def run() -> int:
        try:
            paths.writable_directory("--work-dir", args.work_dir)
        except paths.PathProblem as e:
            print(f"imdb-lstm kubeflow run-local: {e}", file=sys.stderr)
            return 2
        try:
            spec = submit.load_package(args.package)
            local = run_local.run(spec, args.work_dir, submit.parse_parameters(args.param, spec),
                                  say=lambda line: print(line, file=sys.stderr, flush=True))
        except (submit.SubmitError, LaunchError) as e:
            print(f"imdb-lstm kubeflow run-local: {e}", file=sys.stderr)
            return 1
        ran = [task for task in local.tasks if not task.cached]
        print(f"run {local.run_id}: {len(ran)} tasks ran, {len(local.tasks) - len(ran)} cached; "
              f"outputs under {local.pipeline_root}/{local.run_id}")
        return 0

    return stopping.until_stopped(run, farewell)


def main(args: argparse.Namespace, config: PipelineConfig) -> int:
    if args.kubeflow_command == "compile":
        return _compile(args, config)
    if args.kubeflow_command == "run-local":
        return _run_local(args)
    return _submit(args)
