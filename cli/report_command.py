"""`imdb-lstm report`: past runs out of ML Metadata, their reports re-rendered from their
artifacts, and two runs side by side."""
import datetime
import os
import sys
from typing import List, Optional

from components.report import html, summary
from pipeline import outcome
from pipeline.config import PipelineConfig


def _when(created_ms: int) -> str:
    return datetime.datetime.fromtimestamp(created_ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _list(config: PipelineConfig, recorded: List[outcome.RunOutcome]) -> None:
    print(f"{len(recorded)} run(s) of {config.pipeline_name} in {config.metadata_path}")
    print(f"{'run id':<28} {'started':<19}  {'accuracy':>8}  {'blessed':<7}  {'pushed':<10}  report")
    for run in recorded:
        accuracy = run.metrics.get("binary_accuracy")
        blessed = {None: "-", True: "yes", False: "NO"}[run.blessed]
        print(f"{run.run_id:<28} {_when(run.created_ms):<19}  "
              f"{'-' if accuracy is None else f'{accuracy:.4f}':>8}  {blessed:<7}  "
              f"{run.pushed_version if run.pushed else 'no':<10}  {run.report_path or '-'}")


def _resolve(run_id: str, recorded: List[outcome.RunOutcome]) -> str:
    if run_id == "latest":
        return recorded[-1].run_id
    if not any(run.run_id == run_id for run in recorded):
        raise LookupError(f"no run {run_id!r}; `imdb-lstm report` lists them")
    return run_id


def _summary(config: PipelineConfig, run_id: str):
    return summary.summarize(
        outcome.report_inputs(config.metadata_path, config.pipeline_name, run_id))


def _write(page: str, out: Optional[str], config: PipelineConfig, name: str) -> str:
    path = out or os.path.join(config.output_dir, "reports", config.pipeline_name,
                               name.replace(":", "-") + ".html")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(page)
    return path


def main(config: PipelineConfig, run_id: Optional[str], compare: Optional[List[str]],
         out: Optional[str]) -> int:
    recorded = outcome.runs(config.metadata_path, config.pipeline_name)
    if not recorded:
        print(f"imdb-lstm: no runs of {config.pipeline_name} in {config.metadata_path}",
              file=sys.stderr)
        return 1
    try:
        if compare:
            a, b = (_resolve(r, recorded) for r in compare)
            page = html.render_comparison(_summary(config, a), _summary(config, b))
            print(_write(page, out, config, f"compare_{a}_vs_{b}"))
        elif run_id:
            run_id = _resolve(run_id, recorded)
            print(_write(html.render_report(_summary(config, run_id)), out, config, run_id))
        else:
            _list(config, recorded)
    except LookupError as e:
        print(f"imdb-lstm: {e}", file=sys.stderr)
        return 2
    return 0
