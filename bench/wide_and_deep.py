"""Which part of the wide-and-deep model carries it? Trains the configured model as the Trainer
builds and feeds it, on a run's Transform output, and after each epoch prints eval accuracy of
the whole model, of the LSTM's logit alone and of the wide part's alone (each cut at 0 / 0.5).

    .venv/bin/python bench/wide_and_deep.py --output-dir ~/imdb-lstm-tfx --pipeline-name imdb-lstm \
        [--epochs 3] [--set wide_learning_rate_scale=10] [--set adversarial_epsilon=0.02]

Settings are the trainer's (`--set NAME=VALUE`, YAML values). Eval only: never test. Not a
test: about a minute an epoch on a 2-core machine (twice that with adversarial training).
"""
import os
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from cli import logs  # noqa: E402  (first: quiets TensorFlow)
from bench.benchmark import (PIPELINE_NAME, transform_output_and_batches,  # noqa: E402
                             variant_parser, variant_settings)
from trainer import input_pipeline, models  # noqa: E402


def part_accuracies(model, eval_data) -> dict:
    """Eval accuracy of the model and of each logit it adds up, alone."""
    import keras
    import numpy as np
    names = ["lstm_logit"] + ([models.WIDE_LAYER] if len(model.inputs) > 1 else [])
    parts = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    correct, count = {"model": 0, **{n: 0 for n in names}}, 0
    for inputs, labels in eval_data:
        labels = np.reshape(labels, -1).astype(bool)
        correct["model"] += int(np.sum((np.reshape(model(inputs), -1) > 0.5) == labels))
        logits = parts(inputs)
        for name, logit in zip(names, logits if len(names) > 1 else [logits]):
            correct[name] += int(np.sum((np.reshape(logit, -1) > 0) == labels))
        count += len(labels)
    return {name: round(hits / count, 4) for name, hits in correct.items()}


def main():
    parser = variant_parser(__doc__)
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    logs.quiet_libraries()
    import keras
    import yaml

    changes = {name: yaml.safe_load(value)
               for name, value in (pair.split("=", 1) for pair in args.set)}
    c = variant_settings(args.config, args.variant, **changes)
    transform_output, batches = transform_output_and_batches(args.output_dir, c,
                                                             args.pipeline_name)
    train, eval_data = batches("train", shuffle=True), batches("eval", shuffle=False)
    keras.utils.set_random_seed(c.seed)
    model = models.build(c, input_pipeline.vocabulary_size(c, transform_output),
                         input_pipeline.ngram_vocabulary_size(c, transform_output))
    print(f"{c.variant}, {changes or 'default settings'}: eval accuracy after each epoch")
    for epoch in range(1, args.epochs + 1):
        start = time.monotonic()
        model.fit(train, epochs=1, verbose=0)
        print(f"epoch {epoch} ({time.monotonic() - start:.0f} s): "
              f"{part_accuracies(model, eval_data)}", flush=True)


if __name__ == "__main__":
    main()
