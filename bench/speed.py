"""Seconds per epoch of the Trainer against the original model in plain Keras, epochs interleaved.

    .venv/bin/python bench/speed.py --output-dir /tmp/imdb-bench [--config FILE] [--rounds 6]

This 2-core host has slow spells of minutes in which every epoch takes up to twice as long, so
medians of two runs taken half an hour apart can differ by 1.5x. (Their signature, wall time far
above CPU time, is also that of waits for tf.data's autotuning thread, which the plain-Keras side
still has and the Trainer no longer does: docs/experiments/2026-12-03-idle-between-epochs.md.)
Here each round trains one epoch of each side back to back, in alternating order, and the
ratio is taken per round: a slow spell that covers a round slows both sides of its ratio alike.
Spells shorter than a round still hit one side only; the ratio of each side's fastest epoch,
the least disturbed one (as timeit takes the minimum), is printed too. CPU seconds (all of the
process's threads) do not grow in a slow spell: a round whose wall time is far above its usual
share of CPU time was disturbed.

Our side is the Trainer's own code: `training.fit` (early stopping, epoch log, TensorBoard,
backups) over `input_pipeline.dataset` (length buckets) for the configured variant (`basic`, the
original architecture, by default). The other side is the original model as written (every batch
sequence_length long, padding read as if it were words) fitted by plain Keras on numpy arrays
of the same tokenized examples. Both read the Transform output a benchmark run left in
`--output-dir`. Not a test: about ten minutes on a 2-core machine.
"""
import os
import statistics
import sys
import tempfile
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from cli import logs  # noqa: E402  (first: quiets TensorFlow)
from bench.benchmark import (latest_output, seed_model, transformed_split,  # noqa: E402
                             variant_parser, variant_settings)
from trainer import input_pipeline, models, strategy as strategies, training  # noqa: E402


def timed(epoch):
    """Wall and CPU seconds (all of this process's threads) of one epoch."""
    wall, cpu = time.monotonic(), time.process_time()
    epoch()
    return time.monotonic() - wall, time.process_time() - cpu


def main():
    parser = variant_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    logs.quiet_libraries()
    import keras
    import tensorflow_transform as tft

    c = variant_settings(args.config, args.variant)
    transform_output = tft.TFTransformOutput(latest_output(args.output_dir, "Transform",
                                                           "transform_graph"))
    examples = latest_output(args.output_dir, "Transform", "transformed_examples")
    files = {split: [os.path.join(examples, f"Split-{split}", "*")] for split in ("train", "eval")}
    parse = input_pipeline.transformed_examples(transform_output)

    def trainer_data(split, shuffle):
        return lambda input_context=None: input_pipeline.dataset(
            files[split], parse, c, c.batch_size, shuffle, input_context)

    x_train, y_train = transformed_split(args.output_dir, "train", c.sequence_length)
    x_eval, y_eval = transformed_split(args.output_dir, "eval", c.sequence_length)
    keras.utils.set_random_seed(c.seed)
    ours = models.build(c, input_pipeline.vocabulary_size(c, transform_output))
    reference = seed_model(c)
    strategy = strategies.create("default")
    run_root = tempfile.mkdtemp(prefix="imdb-speed-")

    def our_epoch(round_number):
        run_dir = os.path.join(run_root, "model_run", str(round_number))
        training.fit(ours, strategy, c, 1, trainer_data("train", True),
                     trainer_data("eval", False), run_dir, files["train"] + files["eval"],
                     c.early_stopping_metric)

    def reference_epoch():
        reference.fit(x_train, y_train, batch_size=c.batch_size, epochs=1,
                      validation_data=(x_eval, y_eval), verbose=0)

    rows = []
    for round_number in range(1, args.rounds + 1):
        epochs = [("ours", lambda: our_epoch(round_number)), ("reference", reference_epoch)]
        if round_number % 2 == 0:
            epochs.reverse()
        seconds = {name: timed(epoch) for name, epoch in epochs}
        rows.append((round_number, seconds["ours"], seconds["reference"]))
        print(f"[speed] round {round_number}: ours {seconds['ours'][0]:.1f} s "
              f"(cpu {seconds['ours'][1]:.1f} s), reference {seconds['reference'][0]:.1f} s "
              f"(cpu {seconds['reference'][1]:.1f} s)", flush=True)

    print(f"\n{c.variant} (Trainer) against the original model (plain Keras), one epoch each per "
          f"round, train {len(x_train):,} + eval {len(x_eval):,} reviews, sequence_length "
          f"{c.sequence_length}, batch {c.batch_size}, {c.batch_length_buckets} length buckets\n")
    print_ratios(rows)


def print_ratios(rows):
    """The table of each round's (number, (wall, cpu) ours, (wall, cpu) reference) and the ratios
    that summarize them."""
    print("| round | Trainer s (cpu s) | plain Keras s (cpu s) | ratio (wall) | ratio (cpu) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    wall_ratios, cpu_ratios = [], []
    for round_number, (wall, cpu), (ref_wall, ref_cpu) in rows:
        wall_ratios.append(wall / ref_wall)
        cpu_ratios.append(cpu / ref_cpu)
        print(f"| {round_number} | {wall:.1f} ({cpu:.1f}) | {ref_wall:.1f} ({ref_cpu:.1f}) | "
              f"{wall_ratios[-1]:.2f}x | {cpu_ratios[-1]:.2f}x |")
    print(f"| median | | | **{statistics.median(wall_ratios):.2f}x** | "
          f"**{statistics.median(cpu_ratios):.2f}x** |")
    fastest, reference_fastest = (min(row[side][0] for row in rows) for side in (1, 2))
    print(f"| fastest | {fastest:.1f} | {reference_fastest:.1f} | "
          f"**{fastest / reference_fastest:.2f}x** | |")


if __name__ == "__main__":
    main()
