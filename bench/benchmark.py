"""Variant benchmark: every LSTM variant trained and evaluated on the full IMDB data by the real
pipeline, plus the original model in plain Keras on the same tokenized data as the speed reference.

    .venv/bin/python bench/benchmark.py --data ../shared/data/imdb/aclImdb_labeled.tar.gz \
        --output-dir /tmp/imdb-bench [--config FILE] [--variants basic,stacked] [--seed N] \
        [--write docs/BENCHMARKS.md]

Each variant is one `imdb-lstm run --variant V` into the same output dir, so ingest, statistics
and Transform run once and are cached for the others; test accuracy is TFMA's on the 25,000
official test reviews, read back from ML Metadata, exactly as the pipeline gates on it. Not a test:
it takes tens of minutes on a 2-core machine.
"""
import argparse
import datetime
import glob
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from cli import logs  # noqa: E402  (first: quiets TensorFlow)
from pipeline import config as pipeline_config  # noqa: E402
from pipeline import outcome  # noqa: E402
from trainer import models  # noqa: E402
from trainer.features import LABEL_KEY, TOKENS_KEY  # noqa: E402
from trainer.callbacks import EpochLog  # noqa: E402

PIPELINE_NAME = "imdb-lstm-bench"
TABLE_START, TABLE_END = "<!-- variants-table:start -->", "<!-- variants-table:end -->"
_DONE = r"\[{}\] done \((?P<seconds>[\d.]+) s, peak memory (?P<memory>[\d.]+) GiB\)"
_TRAINER_DONE = re.compile(_DONE.format("Trainer"))
_PRETRAINER_DONE = re.compile(_DONE.format("Pretrainer"))


def run_variant(variant: str, args) -> dict:
    command = [os.path.join(os.path.dirname(sys.executable), "imdb-lstm"), "run",
               "--data", args.data, "--output-dir", args.output_dir,
               "--pipeline-name", PIPELINE_NAME, "--variant", variant]
    if args.config:
        command += ["--config", args.config]
    if args.unlabelled_data:
        command += ["--unlabelled-data", args.unlabelled_data]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    print(f"[bench] {' '.join(command)}", flush=True)
    # The run's progress lines pass through as they come (a variant trains for many minutes)
    # and are kept for the Trainer's time and memory.
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    lines = []
    for line in process.stderr:
        sys.stderr.write(line)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"[bench] variant {variant} failed")
    stderr = "".join(lines)
    run = outcome.latest_run(
        os.path.join(args.output_dir, "metadata", PIPELINE_NAME, "metadata.db"), PIPELINE_NAME)
    history = json.load(open(os.path.join(run.output_uris["model_run"], "history.json")))
    trainer = _TRAINER_DONE.search(stderr)
    pretrainer = _PRETRAINER_DONE.search(stderr)  # the first variant's; cached after
    return {
        "variant": variant,
        "epochs_run": len(history["loss"]),
        "epoch_seconds": history["epoch_seconds"],
        "peak_memory_gib": float(trainer["memory"]) if trainer else None,
        "pretraining_seconds": float(pretrainer["seconds"]) if pretrainer else None,
        "test_accuracy": run.metrics["binary_accuracy"],
        "test_auc": run.metrics["auc"],
        "blessed": run.blessed,
        "pushed_version": run.pushed_version if run.pushed else None,
    }


def latest_output(output_dir: str, *parts: str, pipeline_name: str = PIPELINE_NAME) -> str:
    """The newest artifact of a bench pipeline's component output, e.g.
    ("Transform", "transform_graph")."""
    paths = glob.glob(os.path.join(output_dir, "pipelines", pipeline_name, *parts, "*"))
    if not paths:
        raise SystemExit(f"no {'/'.join(parts)} under {output_dir}: run bench/benchmark.py "
                         "there first")
    return max(paths, key=lambda p: int(os.path.basename(p)))


def variant_parser(description: str) -> argparse.ArgumentParser:
    """Arguments of the scripts that train one variant on a benchmark run's data."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True, help="a bench/benchmark.py output dir")
    parser.add_argument("--config", help="the settings the benchmark ran with")
    parser.add_argument("--variant", default="basic")
    return parser


def variant_settings(config_file: str, variant: str, **changes):
    """The trainer settings `imdb-lstm run --variant V --config FILE` resolves (its per_variant
    section included)."""
    overrides = {"trainer": {"variant": variant, **changes}}
    return pipeline_config.load(config_file, overrides, environ={}).trainer


def transformed_split(output_dir: str, split: str, sequence_length: int):
    """The latest Transform output of the bench pipeline for `split`, as numpy arrays."""
    import numpy as np
    import tensorflow as tf
    examples = latest_output(output_dir, "Transform", "transformed_examples")
    files = glob.glob(os.path.join(examples, f"Split-{split}", "*.gz"))
    tokens, labels = [], []
    spec = {TOKENS_KEY: tf.io.FixedLenFeature([sequence_length], tf.int64),
            LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)}
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096):
        parsed = tf.io.parse_example(batch, spec)
        tokens.append(parsed[TOKENS_KEY].numpy())
        labels.append(parsed[LABEL_KEY].numpy())
    return np.concatenate(tokens), np.concatenate(labels)


def test_split(output_dir: str, pipeline_name: str = PIPELINE_NAME) -> str:
    """File pattern of a bench run's official test reviews, raw tf.Examples as ExampleGen wrote
    them."""
    return os.path.join(latest_output(output_dir, "ImdbExampleGen", "examples",
                                      pipeline_name=pipeline_name), "Split-test", "*")


def test_reviews(output_dir: str, transform_output, trainer_config,
                 pipeline_name: str = PIPELINE_NAME):
    """The official test reviews of a bench run, as (tokens, label) batches: Transform does not
    tokenize the test split, so its raw reviews go through the Transform graph as serving does."""
    from trainer import input_pipeline, pretraining
    return input_pipeline.dataset([test_split(output_dir, pipeline_name)],
                                  pretraining.raw_reviews(transform_output, LABEL_KEY),
                                  trainer_config, 256, shuffle=False)


def seed_model(c):
    """The original model as written (post-padding, no mask), compiled as it was."""
    import keras
    model = keras.Sequential([
        keras.Input(shape=(c.sequence_length,), dtype="int64"),
        keras.layers.Embedding(c.vocab_size + c.oov_buckets + 1, c.embedding_dim),
        keras.layers.LSTM(c.lstm_units),
        keras.layers.Dropout(c.dropout),
        keras.layers.Dense(c.dense_units, activation="relu"),
        keras.layers.Dropout(c.dropout),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(c.learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def plain_keras_reference(args) -> dict:
    """The original model fitted with plain Keras on the same tokenized train/eval data, with the
    same settings: the yardstick for our Trainer's seconds per epoch."""
    import keras
    seed = {} if args.seed is None else {"seed": args.seed}
    c = variant_settings(args.config, "basic", **seed)  # the original model
    x_train, y_train = transformed_split(args.output_dir, "train", c.sequence_length)
    x_eval, y_eval = transformed_split(args.output_dir, "eval", c.sequence_length)
    keras.utils.set_random_seed(c.seed)
    model = seed_model(c)
    print(f"[bench] plain Keras reference: the original model, {c.epochs} epochs on "
          f"{len(x_train):,} reviews", flush=True)
    # Timed by the Trainer's own callback, so both sides of the ratio are measured alike.
    timer = EpochLog(c.epochs)
    history = model.fit(x_train, y_train, batch_size=c.batch_size, epochs=c.epochs,
                        validation_data=(x_eval, y_eval), callbacks=[timer], verbose=0)
    seconds = timer.history["epoch_seconds"]
    print(f"[bench] plain Keras reference: {seconds} s per epoch", flush=True)
    return {"variant": "original model, plain Keras (reference)", "epochs_run": c.epochs,
            "epoch_seconds": seconds, "train_examples": len(x_train),
            "eval_accuracy": history.history["val_accuracy"][-1]}


def table(results, reference, train_examples: int) -> str:
    # Medians: robust to the other tenants of a shared machine slowing down a few epochs.
    ref_seconds = statistics.median(reference["epoch_seconds"])
    rows = ["| variant | epochs run | median s / epoch | examples / s | peak memory | "
            "test accuracy | test AUC | blessed | s / epoch vs. plain Keras |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in results:
        seconds = statistics.median(r["epoch_seconds"])
        rows.append(
            f"| {r['variant']} | {r['epochs_run']} | {seconds:.1f} | "
            f"{train_examples / seconds:,.0f} | {r['peak_memory_gib']:.2f} GiB | "
            f"{r['test_accuracy']:.4f} | {r['test_auc']:.4f} | "
            f"{'yes' if r['blessed'] else 'no'} | {seconds / ref_seconds:.2f}x |")
    rows.append(f"| {reference['variant']} | {reference['epochs_run']} | {ref_seconds:.1f} | "
                f"{train_examples / ref_seconds:,.0f} | - | (eval {reference['eval_accuracy']:.4f})"
                " | - | - | 1.00x |")
    return "\n".join(rows)


def write_table(path: str, text: str) -> None:
    document = open(path).read()
    if TABLE_START not in document:
        raise SystemExit(f"{path} has no {TABLE_START} ... {TABLE_END} section to fill")
    before, rest = document.split(TABLE_START, 1)
    _, after = rest.split(TABLE_END, 1)
    with open(path, "w") as f:
        f.write(f"{before}{TABLE_START}\n{text}\n{TABLE_END}{after}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--config", help="YAML settings for every variant and the reference")
    parser.add_argument("--unlabelled-data", help="unlabelled reviews for pretraining, if the "
                        "config asks for it (default: those of --data)")
    parser.add_argument("--variants", default=",".join(models.variants()))
    parser.add_argument("--seed", type=int, help="the random seed of every variant and the "
                        "reference, to repeat a run with another (default: the config's)")
    parser.add_argument("--write", help="fill the variants table of this markdown file")
    args = parser.parse_args()
    logs.quiet_libraries()
    # The reference trains in this process: its epoch lines show as the Trainer's do.
    epoch_lines = logging.getLogger("trainer")
    epoch_lines.setLevel(logging.INFO)
    epoch_lines.addHandler(logs.ConsoleProgress(sys.stdout))
    epoch_lines.propagate = False  # the root logger's handler would print each line again

    started = time.time()
    results = [run_variant(v, args) for v in args.variants.split(",")]
    reference = plain_keras_reference(args)
    text = table(results, reference, reference["train_examples"])
    machine = (f"{os.cpu_count()} CPU, {platform.platform()}, Python {platform.python_version()}"
               f"; {datetime.date.today().isoformat()}; {time.time() - started:.0f} s in all")
    command = "python bench/benchmark.py " + " ".join(sys.argv[1:])
    pretraining = [r["pretraining_seconds"] for r in results if r["pretraining_seconds"]]
    if pretraining:
        machine += f"; pretraining {pretraining[0]:.0f} s, once for every variant"
    report = f"{text}\n\nMeasured by `{command}` ({machine})."
    print(report)
    with open(os.path.join(args.output_dir, "benchmark.json"), "w") as f:
        json.dump({"variants": results, "reference": reference}, f, indent=2)
    if args.write:
        write_table(args.write, report)


if __name__ == "__main__":
    main()
