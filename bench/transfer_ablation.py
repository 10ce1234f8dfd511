"""What to hand over from the pretrained language model: nothing, its embedding (what the
pipeline does), or its embedding and its LSTM. Each variant below is trained for the same epochs
on the same data by the Trainer's own input pipeline, then scored on the 25,000 official test
reviews.

    .venv/bin/python bench/transfer_ablation.py --output-dir /tmp/imdb-bench-pre \
        --config bench/pretrained.yaml [--variant basic] [--epochs 3]

Reads what a benchmark run with pretraining left in `--output-dir` (bench/benchmark.py --config
bench/pretrained.yaml): the Transform graph and examples, the test split, the Pretrainer's
encoder. Not a test: about ten minutes on a 2-core machine.
"""
import os
import sys
import time

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PROJECT_ROOT)

from cli import logs  # noqa: E402  (first: quiets TensorFlow)
from bench.benchmark import (PIPELINE_NAME, latest_output, test_reviews,  # noqa: E402
                             variant_parser, variant_settings)
from trainer import artifacts, input_pipeline, models, warm_start  # noqa: E402

HANDOVERS = ("none", "embedding", "embedding+lstm")


def main():
    parser = variant_parser(__doc__)
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    logs.quiet_libraries()
    import keras
    import tensorflow_transform as tft

    trainer_config = variant_settings(args.config, args.variant, epochs=args.epochs)
    def latest(*parts):
        return latest_output(args.output_dir, *parts, pipeline_name=args.pipeline_name)

    transform_output = tft.TFTransformOutput(latest("Transform", "transform_graph"))
    examples = latest("Transform", "transformed_examples")
    encoder_path = os.path.join(latest("Pretrainer", "model"), "Format-Serving",
                                artifacts.PRETRAINED_ENCODER_FILE)
    vocabulary = input_pipeline.vocabulary_size(trainer_config, transform_output)
    parse = input_pipeline.transformed_examples(transform_output)

    def data(split, shuffle):
        return input_pipeline.dataset([os.path.join(examples, f"Split-{split}", "*")], parse,
                                      trainer_config, trainer_config.batch_size, shuffle)

    test_data = test_reviews(args.output_dir, transform_output, trainer_config,
                             args.pipeline_name)

    rows = []
    for handover in HANDOVERS:
        keras.utils.set_random_seed(trainer_config.seed)
        model = models.build(trainer_config, vocabulary)
        if handover != "none":
            warm_start.copy_embedding(model, encoder_path)
        if handover == "embedding+lstm":
            pretrained_lstm = keras.models.load_model(encoder_path).layers[-1]
            first_lstm = next(l for l in model.layers if isinstance(l, keras.layers.LSTM))
            first_lstm.set_weights(pretrained_lstm.get_weights())
        started = time.time()
        history = model.fit(data("train", True), validation_data=data("eval", False),
                            epochs=args.epochs, verbose=0)
        accuracy = model.evaluate(test_data, verbose=0, return_dict=True)["accuracy"]
        eval_accuracy = ", ".join(f"{a:.4f}" for a in history.history["val_accuracy"])
        rows.append(f"| {handover} | {eval_accuracy} | {accuracy:.4f} | "
                    f"{time.time() - started:.0f} s |")
        print(rows[-1], flush=True)
    print(f"\n{args.variant}, {args.epochs} epochs, no early stopping (last epoch's weights); "
          f"encoder {encoder_path}\n")
    print("| handed over | eval accuracy per epoch | test accuracy | wall time |")
    print("| --- | --- | ---: | ---: |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
