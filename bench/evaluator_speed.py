"""How long TFMA takes on the fixed evaluation set: the pipeline's gate (candidate against
baseline, whole split) and slices (candidate alone), and the gate computing the slices too, with
variants of that (docs/experiments/2026-12-07-evaluator-speed.md).

    python bench/evaluator_speed.py --examples EXAMPLES_URI --candidate MODEL_URI \
        --baseline MODEL_URI --work-dir /tmp/bench-eval

EXAMPLES_URI: an ExampleGen output with a `test` split; MODEL_URI: a Trainer's model artifact
(with Format-Serving/). Each variant runs TFMA on the local runner, as the Evaluator does.
"""
import argparse
import glob
import json
import os
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

import tensorflow_model_analysis as tfma  # noqa: E402

from pipeline import evaluation  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402


# TFMA's defaults are 10,000 thresholds (buckets) for each of these, on every slice.
COARSER = {"AUC": {"num_thresholds": 1000}, "AUCPrecisionRecall": {"num_thresholds": 1000},
           "ConfusionMatrixPlot": {"num_thresholds": 1000},
           "CalibrationPlot": {"num_buckets": 1000}}


def _copy(eval_config):
    copied = tfma.EvalConfig()
    copied.CopyFrom(eval_config)
    return copied


def _with_slices(eval_config):
    """The gate also computing the report's slices."""
    sliced = _copy(eval_config)
    sliced.slicing_specs.extend(evaluation.slice_eval_config().slicing_specs)
    return sliced


def variants(config: PipelineConfig):
    """name -> (eval config, with the baseline): the pipeline's gate and slices, then the gate
    computing the slices too, with one cost taken out at a time."""
    gate = evaluation.eval_config(config)
    no_plots = _with_slices(gate)
    kept = [m for m in no_plots.metrics_specs[0].metrics if not m.class_name.endswith("Plot")]
    del no_plots.metrics_specs[0].metrics[:]
    no_plots.metrics_specs[0].metrics.extend(kept)
    coarser = _with_slices(gate)
    for metric in coarser.metrics_specs[0].metrics:
        if metric.class_name in COARSER:
            metric.config = json.dumps(COARSER[metric.class_name])
    return {"gate": (gate, True), "slices": (evaluation.slice_eval_config(), False),
            "gate with slices": (_with_slices(gate), True),
            "gate with slices, without plots": (no_plots, True),
            "gate with slices, 1000 thresholds": (coarser, True)}


def judge(eval_config, with_baseline: bool, examples: str, candidate: str, baseline: str,
          output: str) -> float:
    eval_config = tfma.utils.update_eval_config_with_defaults(eval_config,
                                                              has_baseline=with_baseline)
    models = [tfma.default_eval_shared_model(
        eval_saved_model_path=os.path.join(uri, "Format-Serving"), model_name=spec.name,
        eval_config=eval_config)
        for spec, uri in zip(eval_config.model_specs, (candidate, baseline))]
    started = time.perf_counter()
    tfma.run_model_analysis(
        eval_shared_model=models if with_baseline else models[0], eval_config=eval_config,
        output_path=output, data_location=os.path.join(examples, "Split-test", "*"),
        file_format="tfrecords", pipeline_options=None)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("--examples", "--candidate", "--baseline", "--work-dir"):
        parser.add_argument(name, required=True)
    parser.add_argument("--variants", help="';'-separated names (default: all)")
    args = parser.parse_args()
    files = glob.glob(os.path.join(args.examples, "Split-test", "*"))
    print(f"test split: {len(files)} file(s)")
    wanted = args.variants.split(";") if args.variants else None
    for name, (eval_config, with_baseline) in variants(PipelineConfig()).items():
        if wanted and name not in wanted:
            continue
        seconds = judge(eval_config, with_baseline, args.examples, args.candidate, args.baseline,
                        os.path.join(args.work_dir, name.replace(" ", "_").replace(",", "")))
        print(f"{name}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
