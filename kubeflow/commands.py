"""`imdb-lstm kubeflow compile` and `imdb-lstm kubeflow submit`."""
import argparse
import dataclasses
import sys

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


def main(args: argparse.Namespace, config: PipelineConfig) -> int:
    if args.kubeflow_command == "compile":
        return _compile(args, config)
    return _submit(args)
