"""Variant benchmark: every LSTM variant trained and evaluated on the full IMDB data by the real
pipeline, with and without the wide part beside it, against the bag-of-words baseline
(bench/bag_of_words.py) on the same splits, plus the original model in plain Keras on the same
tokenized data as the speed reference.

    .venv/bin/python bench/benchmark.py --data ../shared/data/imdb/aclImdb_labeled.tar.gz \
        --output-dir /tmp/imdb-bench [--config FILE] [--variants basic,stacked] [--seed N] \
        [--wide both|with|without] [--write docs/BENCHMARKS.md]

Each row is one `imdb-lstm run --variant V --ngram-vocab-size N` into the same output dir, so
ingest and statistics run once, Transform once per n-gram setting; test accuracy is TFMA's on the
25,000 official test reviews, read back from ML Metadata, exactly as the pipeline gates on it.
Per row also the whole run's wall time and CPU seconds, and the exported model's throughput
through `serving_raw_text` in batches of 256. Not a test: it takes hours on a 2-core machine.
"""
import argparse
import datetime
import glob
import json
import logging
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from cli import logs  # noqa: E402  (first: quiets TensorFlow)
import bag_of_words  # noqa: E402
from pipeline import config as pipeline_config  # noqa: E402
from pipeline import outcome  # noqa: E402
from trainer import models  # noqa: E402
from trainer.features import LABEL_KEY, TOKENS_KEY  # noqa: E402
from trainer.callbacks import EpochLog  # noqa: E402

PIPELINE_NAME = "imdb-lstm-bench"
# The wide part's n-grams in the rows that have one (trainer/config.py).
WIDE_NGRAMS = 200_000
TABLE_START, TABLE_END = "<!-- variants-table:start -->", "<!-- variants-table:end -->"
_DONE = r"\[{}\] done \((?P<seconds>[\d.]+) s, peak memory (?P<memory>[\d.]+) GiB\)"
_TRAINER_DONE = re.compile(_DONE.format("Trainer"))
_PRETRAINER_DONE = re.compile(_DONE.format("Pretrainer"))


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def serving_throughput(model_dir: str, reviews, batch_size: int = 256) -> float:
    """Reviews a second through the SavedModel's raw-text signature, in batches."""
    import tensorflow as tf
    signature = tf.saved_model.load(model_dir).signatures["serving_raw_text"]
    signature(review=tf.constant(reviews[:batch_size]))  # traced once
    started = time.perf_counter()
    for start in range(0, len(reviews), batch_size):
        signature(review=tf.constant(reviews[start:start + batch_size]))
    return len(reviews) / (time.perf_counter() - started)


def run_variant(variant: str, ngram_vocab_size: int, args) -> dict:
    command = [os.path.join(os.path.dirname(sys.executable), "imdb-lstm"), "run",
               "--data", args.data, "--output-dir", args.output_dir,
               "--pipeline-name", PIPELINE_NAME, "--variant", variant,
               "--ngram-vocab-size", str(ngram_vocab_size)]
    if args.config:
        command += ["--config", args.config]
    if args.unlabelled_data:
        command += ["--unlabelled-data", args.unlabelled_data]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    print(f"[bench] {' '.join(command)}", flush=True)
    # The run's progress lines pass through as they come (a variant trains for many minutes)
    # and are kept for the Trainer's time and memory.
    started, cpu = time.time(), _children_cpu_seconds()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    lines = []
    for line in process.stderr:
        sys.stderr.write(line)
        lines.append(line)
    if process.wait() != 0:
        raise SystemExit(f"[bench] variant {variant} failed")
    wall, cpu = time.time() - started, _children_cpu_seconds() - cpu
    stderr = "".join(lines)
    run = outcome.latest_run(
        os.path.join(args.output_dir, "metadata", PIPELINE_NAME, "metadata.db"), PIPELINE_NAME)
    history = json.load(open(os.path.join(run.output_uris["model_run"], "history.json")))
    trainer = _TRAINER_DONE.search(stderr)
    pretrainer = _PRETRAINER_DONE.search(stderr)  # the first variant's; cached after
    return {
        "variant": variant,
        "wide": ngram_vocab_size,
        "run_seconds": wall,
        "run_cpu_seconds": cpu,
        "model_dir": os.path.join(run.output_uris["model"], "Format-Serving"),
        "epochs_run": len(history["loss"]),
        "epoch_seconds": history["epoch_seconds"],
        "trainer_seconds": float(trainer["seconds"]) if trainer else None,
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


def transform_output_and_batches(output_dir: str, trainer_config,
                                 pipeline_name: str = PIPELINE_NAME):
    """The latest Transform output of a bench run (a TFTransformOutput), and
    `batches(split, shuffle)`: that split's examples as the Trainer reads them."""
    import tensorflow_transform as tft
    from trainer import input_pipeline
    transform_output = tft.TFTransformOutput(latest_output(
        output_dir, "Transform", "transform_graph", pipeline_name=pipeline_name))
    examples = latest_output(output_dir, "Transform", "transformed_examples",
                             pipeline_name=pipeline_name)
    parse = input_pipeline.transformed_examples(transform_output)

    def batches(split: str, shuffle: bool):
        return input_pipeline.dataset([os.path.join(examples, f"Split-{split}", "*")], parse,
                                      trainer_config, trainer_config.batch_size, shuffle)
    return transform_output, batches


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


def table(results, bag_of_words, reference) -> str:
    # Medians: robust to the other tenants of a shared machine slowing down a few epochs.
    ref_seconds = statistics.median(reference["epoch_seconds"])
    rows = ["| variant | wide part | test accuracy | test AUC | epochs run | median s / epoch | "
            "Trainer s | run CPU s | peak memory | serving reviews / s | blessed | "
            "s / epoch vs. plain Keras |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in results:
        seconds = statistics.median(r["epoch_seconds"])
        wide = f"{r['wide']:,} n-grams" if r["wide"] else "-"
        rows.append(
            f"| {r['variant']} | {wide} | "
            f"{r['test_accuracy']:.4f} | {r['test_auc']:.4f} | {r['epochs_run']} | "
            f"{seconds:.1f} | {r['trainer_seconds']:.0f} | {r['run_cpu_seconds']:.0f} | "
            f"{r['peak_memory_gib']:.2f} GiB | {r['serving_reviews_per_second']:,.0f} | "
            f"{'yes' if r['blessed'] else 'no'} | {seconds / ref_seconds:.2f}x |")
    b = bag_of_words
    rows.append(f"| {b['variant']} | {b['features']:,} features, C {b['c']} | "
                f"**{b['test_accuracy']:.4f}** | {b['test_auc']:.4f} | - | - | "
                f"{b['wall_seconds']:.0f} (fit) | {b['cpu_seconds']:.0f} | "
                f"{b['peak_memory_gib']:.2f} GiB | {b['reviews_per_second']:,.0f} | - | - |")
    rows.append(f"| {reference['variant']} | - | (eval {reference['eval_accuracy']:.4f}) | - | "
                f"{reference['epochs_run']} | {ref_seconds:.1f} | - | - | - | - | - | 1.00x |")
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
    parser.add_argument("--wide", choices=("both", "with", "without"), default="both",
                        help="rows with the wide part, without it, or both (default)")
    parser.add_argument("--ngram-vocab-size", type=int, default=WIDE_NGRAMS,
                        help="the wide part's n-grams in its rows (default: %(default)s)")
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
    wide = {"both": [0, args.ngram_vocab_size], "with": [args.ngram_vocab_size],
            "without": [0]}[args.wide]
    results = [run_variant(variant, ngrams, args) for variant in args.variants.split(",")
               for ngrams in wide]
    examples = latest_output(args.output_dir, "ImdbExampleGen", "examples")
    reviews = bag_of_words.raw_split(examples, "test")[0][:5120]
    for result in results:  # one after another, so that no run slows another down
        result["serving_reviews_per_second"] = serving_throughput(result["model_dir"], reviews)
    baseline = bag_of_words.fit_and_score(examples)
    reference = plain_keras_reference(args)
    text = table(results, baseline, reference)
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
