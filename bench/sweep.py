"""Settings for one variant chosen on eval, across seeds: every combination of the `--set`
values, trained at each seed by the Trainer's own `training.train` (early stopping, best weights
restored, decision threshold, export), then scored on the 25,000 official test reviews through
the exported model's serving signature, as the Evaluator scores it.

    .venv/bin/python bench/sweep.py --output-dir /tmp/imdb-bench --config bench/tuned_long.yaml \
        --variant regularized --set learning_rate=0.00025,0.0005,0.001 [--seeds 42,1,2] \
        [--pretrained-model OUTPUT_DIR/pipelines/imdb-lstm-bench/Pretrainer/model/ID]

Choose on the eval column (the Trainer's eval split, what early stopping and the threshold saw);
the test column is there to confirm, not to choose by. Reads the Transform output and the test
split a bench/benchmark.py run left in `--output-dir`. Not a test: about three minutes per
setting and seed on a 2-core machine.
"""
import glob
import itertools
import json
import os
import statistics
import sys
import tempfile
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from cli import logs  # noqa: E402  (first: quiets TensorFlow)
from bench.benchmark import (latest_output, test_split, variant_parser,  # noqa: E402
                             variant_settings)
from trainer import artifacts, calibration, features, training  # noqa: E402


def grid(assignments):
    """["learning_rate=0.001,0.0005", "dropout=0.3"] -> every combination, as dicts."""
    import yaml
    axes = []
    for assignment in assignments:
        key, _, values = assignment.partition("=")
        if not values:
            raise SystemExit(f"--set takes KEY=VALUE[,VALUE...], got {assignment!r}")
        axes.append([(key, yaml.safe_load(v)) for v in values.split(",")])
    return [dict(combination) for combination in itertools.product(*axes)]


def test_accuracy(serving_model_dir: str, test_files) -> float:
    """Accuracy of the exported model on raw test examples, its score cut at 0.5."""
    import numpy as np
    import tensorflow as tf
    serve = tf.saved_model.load(serving_model_dir).signatures["serving_default"]
    scores, labels = [], []
    for records in tf.data.TFRecordDataset(test_files, compression_type="GZIP").batch(512):
        scores.append(np.ravel(serve(examples=records)[features.PREDICTION_KEY]))
        labels.append(tf.io.parse_example(
            records, {features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)})[features.LABEL_KEY])
    return calibration.accuracy(np.concatenate(scores), np.concatenate(labels),
                                calibration.NEUTRAL)


def main():
    parser = variant_parser(__doc__)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2",
                        help="trainer settings to try (repeat for a grid)")
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--pretrained-model", help="start every run from the embedding of this "
                        "Pretrainer model directory (as `imdb-lstm run --pretrained-model`)")
    args = parser.parse_args()
    logs.quiet_libraries()
    import tensorflow_transform as tft
    from tfx.utils import path_utils

    transform_output = tft.TFTransformOutput(latest_output(args.output_dir, "Transform",
                                                           "transform_graph"))
    examples = latest_output(args.output_dir, "Transform", "transformed_examples")
    train_files, eval_files = ([os.path.join(examples, f"Split-{split}", "*")]
                               for split in ("train", "eval"))
    test_files = glob.glob(test_split(args.output_dir))
    seeds = [int(s) for s in args.seeds.split(",")]
    pretrained_dir = (path_utils.serving_model_dir(args.pretrained_model)
                      if args.pretrained_model else None)
    scratch = tempfile.mkdtemp(prefix="imdb-sweep-")
    rows = []
    for number, setting in enumerate(grid(args.set)):
        evals, tests = [], []
        for seed in seeds:
            c = variant_settings(args.config, args.variant, **setting, seed=seed)
            run = os.path.join(scratch, str(number), str(seed))
            started = time.time()
            history = training.train(c, transform_output, train_files, eval_files,
                                     os.path.join(run, "serving"),
                                     os.path.join(run, "model_run", "0"),
                                     pretrained_dir=pretrained_dir)
            with open(os.path.join(run, "serving", artifacts.CALIBRATION_ASSET)) as f:
                evals.append(json.load(f)["eval_accuracy"])
            tests.append(test_accuracy(os.path.join(run, "serving"), test_files))
            print(f"{setting} seed {seed}: {len(history['val_accuracy'])} epochs, eval "
                  f"{evals[-1]:.4f}, test {tests[-1]:.4f} ({time.time() - started:.0f} s)",
                  flush=True)
        rows.append(f"| {', '.join(f'{k}={v}' for k, v in setting.items()) or 'as configured'} "
                    f"| {' / '.join(f'{a:.4f}' for a in evals)} | {statistics.mean(evals):.4f} "
                    f"| {' / '.join(f'{a:.4f}' for a in tests)} | {statistics.mean(tests):.4f} |")
    print(f"\n{args.variant}, {args.config or 'defaults'}, seeds {args.seeds}\n")
    print("| setting | eval accuracy per seed | mean | test accuracy per seed | mean |")
    print("| --- | --- | ---: | --- | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
