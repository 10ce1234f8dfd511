"""Would averaging the weights over steps steady a variant? One training run of the variant as the
Trainer builds and feeds it; after each epoch, its eval and test accuracy with the weights as
trained, and with exponential moving averages of them over the steps so far. The averages are
only read, so the run trains exactly as it would without them.

    .venv/bin/python bench/weight_averaging.py --output-dir /tmp/bench-seed1 \
        --config bench/tuned_long.yaml --variant regularized --seed 1 [--momenta 0.99,0.998]

Eval accuracy is at 0.5 and at the threshold the Trainer would fit on eval; test accuracy (the
25,000 official test reviews, tokenized as serving does) at that threshold. Reads what a
bench/benchmark.py run left in `--output-dir`. Not a test: about twelve minutes for eight epochs
on a 2-core machine.
"""
import functools
import os
import sys

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from cli import logs  # noqa: E402  (first: quiets TensorFlow)
from bench.benchmark import (test_reviews, transform_output_and_batches,  # noqa: E402
                             variant_parser, variant_settings)
from trainer import calibration, input_pipeline, models  # noqa: E402


def main():
    parser = variant_parser(__doc__)
    parser.add_argument("--seed", type=int, help="default: the config's")
    parser.add_argument("--epochs", type=int, help="default: the config's (no early stopping)")
    parser.add_argument("--momenta", default="0.99,0.998")
    args = parser.parse_args()
    logs.quiet_libraries()
    import keras

    changes = {k: v for k, v in (("seed", args.seed), ("epochs", args.epochs)) if v is not None}
    c = variant_settings(args.config, args.variant, **changes)
    momenta = [float(m) for m in args.momenta.split(",")]
    transform_output, data = transform_output_and_batches(args.output_dir, c)

    test = test_reviews(args.output_dir, transform_output, c)
    keras.utils.set_random_seed(c.seed)
    model = models.build(c, input_pipeline.vocabulary_size(c, transform_output),
                         input_pipeline.ngram_vocabulary_size(c, transform_output))

    score_row = functools.partial(table_row, model, data("eval", False), test)

    print(f"{args.variant}, seed {c.seed}, {args.output_dir}\n")
    print("| epoch, weights | eval at 0.5 | threshold | eval at it | test at it | test AUC |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
    model.fit(data("train", True), validation_data=data("eval", False), epochs=c.epochs,
              callbacks=[weight_averages(model, momenta, score_row)], verbose=0)


def table_row(model, eval_data, test_data, name: str) -> str:
    """`name`'s row: eval accuracy at 0.5, the threshold fitted on eval, eval and test accuracy
    at it, test AUC."""
    import keras
    scores, labels = calibration.scores_and_labels(model, eval_data)
    threshold = calibration.decision_threshold(scores, labels)
    test_scores, test_labels = calibration.scores_and_labels(model, test_data)
    auc = keras.metrics.AUC(num_thresholds=10_000)
    auc.update_state(test_labels, test_scores)
    return (f"| {name} | {calibration.accuracy(scores, labels, calibration.NEUTRAL):.4f} | "
            f"{threshold:.3f} | {calibration.accuracy(scores, labels, threshold):.4f} | "
            f"{calibration.accuracy(test_scores, test_labels, threshold):.4f} | "
            f"{float(auc.result()):.4f} |")


def weight_averages(model, momenta, score_row):
    """A callback keeping moving averages of the weights over steps, one per momentum, that
    prints after each epoch the rows of the weights as trained and of each average."""
    import keras

    class WeightAverages(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.averages = {m: [v.numpy().copy() for v in model.trainable_variables]
                             for m in momenta}

        def on_train_batch_end(self, batch, logs=None):
            weights = [v.numpy() for v in model.trainable_variables]
            for momentum, average in self.averages.items():
                for a, w in zip(average, weights):
                    a *= momentum
                    a += (1 - momentum) * w

        def on_epoch_end(self, epoch, logs=None):
            trained = [v.numpy().copy() for v in model.trainable_variables]
            rows = [score_row(f"{epoch + 1}, as trained")]
            for momentum, average in self.averages.items():
                for v, a in zip(model.trainable_variables, average):
                    v.assign(a)
                rows.append(score_row(f"{epoch + 1}, average {momentum}"))
            for v, w in zip(model.trainable_variables, trained):
                v.assign(w)
            print("\n".join(rows), flush=True)
    return WeightAverages()


if __name__ == "__main__":
    main()
